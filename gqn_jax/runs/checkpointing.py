"""Orbax checkpoints of a training run, including the position of the tf.data input iterator.

A step directory under `<workdir>/checkpoints/` is a Composite with items
  params     StandardSave of the model params (what gqn_jax.trained.restore reads),
  opt_state  StandardSave of the optax state (its step count drives nothing: schedules use the
             checkpoint's step),
  config     JsonSave of config.to_dict(),
  data       the input's position, one file per process: a tf.data iterator's tf.train.Checkpoint,
             or a scene stream's counter as JSON (gqn_jax.scenes.stream).
Orbax writes a step into a temporary directory and renames it when every item is complete, so a
crash during a save leaves the previous step as the latest usable one.

Why checkpoint the iterator rather than make batches a function of (seed, step): the pipeline
shuffles a stream of scenes and samples contexts on the fly; regenerating batch s from scratch would
mean replaying s batches of JPEG decoding. tf.data can save its own state (shuffle buffers and
random-op seeds included), so a resumed run sees exactly the batches an uninterrupted one would.
"""

import dataclasses
import json

import jax
import orbax.checkpoint as ocp

from gqn_jax import paths

CHECKPOINT_DIR = "checkpoints"  # <workdir>/checkpoints holds the CheckpointManager's steps
PARAMS = "params"
OPT_STATE = "opt_state"
CONFIG = "config"
DATA = "data"


class InputStateHandler(ocp.CheckpointHandler):
  """Saves and restores the input iterator's position, one prefix per process.

  Input state is host-local (each process reads its own shards or renders its own scenes), so
  every process writes its own `process_<i>` prefix into the item directory; Orbax has already
  created that directory on every process. A tf.data iterator is saved with tf.train.Checkpoint;
  an iterator with get_state/set_state (a scene stream) as `process_<i>.json`, without
  TensorFlow.
  """

  def save(self, directory, args):
    if hasattr(args.iterator, "get_state"):
      path = paths.resolve(_process_prefix(directory) + ".json")
      path.write_text(json.dumps(args.iterator.get_state()))
      return
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.train.Checkpoint(iterator=args.iterator).write(_process_prefix(directory))

  def restore(self, directory, args):
    prefix = _process_prefix(directory)
    if hasattr(args.iterator, "set_state"):
      path = paths.resolve(prefix + ".json")
      if not path.exists():
        raise FileNotFoundError(
            f"no scene-stream position for process {jax.process_index()} at {path}; was this "
            "checkpoint written with another config.data.source or number of processes? Resume "
            "with the same source and process count, or start a fresh workdir.")
      args.iterator.set_state(json.loads(path.read_text()))
      return args.iterator
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if not tf.io.gfile.exists(prefix + ".index"):
      raise FileNotFoundError(
          f"no input-iterator state for process {jax.process_index()} at {prefix}; was this "
          "checkpoint written with a different number of processes or config.data.source? "
          "Restart with the same process count and source, or start a fresh workdir.")
    tf.train.Checkpoint(iterator=args.iterator).read(prefix).assert_consumed()
    return args.iterator


def _process_prefix(directory):
  return str(paths.resolve(directory) / f"process_{jax.process_index()}")


@ocp.args.register_with_handler(InputStateHandler, for_save=True)
@dataclasses.dataclass
class InputStateSave(ocp.args.CheckpointArgs):
  iterator: object


@ocp.args.register_with_handler(InputStateHandler, for_restore=True)
@dataclasses.dataclass
class InputStateRestore(ocp.args.CheckpointArgs):
  iterator: object  # restored in place and returned


def create_manager(workdir, max_to_keep):
  """The CheckpointManager of a run: `<workdir>/checkpoints`, async saves, last `max_to_keep`."""
  # cleanup_tmp_directories: a save that a crash interrupted leaves `<step>.orbax-checkpoint-tmp`
  # (up to 2 GB at the paper size); the next run removes it before it starts.
  options = ocp.CheckpointManagerOptions(
      max_to_keep=max_to_keep, create=True, enable_async_checkpointing=True,
      cleanup_tmp_directories=True)
  return ocp.CheckpointManager(
      paths.resolve(workdir) / CHECKPOINT_DIR, item_handlers=_item_handlers(), options=options)


def reading_manager(directory):
  """A manager that only reads `<workdir>/checkpoints` (evaluation, rendering)."""
  options = ocp.CheckpointManagerOptions(create=False)
  return ocp.CheckpointManager(directory, item_handlers=_item_handlers(), options=options)


def _item_handlers():
  """Every item's handler, given up front: Orbax can then read any item's metadata, and does not
  warn about the items a caller leaves unread (opt_state and data, for inference)."""
  return {PARAMS: ocp.StandardCheckpointHandler(), OPT_STATE: ocp.StandardCheckpointHandler(),
          CONFIG: ocp.JsonCheckpointHandler(), DATA: InputStateHandler()}


def save(manager, step, params, opt_state, config, train_iterator):
  """Starts an asynchronous save of everything a resumed run needs; returns at once."""
  manager.save(step, args=ocp.args.Composite(**{
      PARAMS: ocp.args.StandardSave(params),
      OPT_STATE: ocp.args.StandardSave(opt_state),
      CONFIG: ocp.args.JsonSave(config.to_dict()),
      DATA: InputStateSave(train_iterator),
  }))


def restore(manager, step, abstract_params, abstract_opt_state, train_iterator):
  """Restores (params, opt_state) of `step` onto the shardings of the abstract trees.

  The input iterator is restored in place.
  """
  restored = manager.restore(step, args=ocp.args.Composite(**{
      PARAMS: ocp.args.StandardRestore(abstract_params),
      OPT_STATE: ocp.args.StandardRestore(abstract_opt_state),
      DATA: InputStateRestore(train_iterator),
  }))
  return restored[PARAMS], restored[OPT_STATE]


def _shapes_by_path(tree):
  leaves = jax.tree.leaves_with_path(tree, is_leaf=lambda leaf: hasattr(leaf, "shape"))
  return {jax.tree_util.keystr(path): tuple(leaf.shape) for path, leaf in leaves}


def flatten(tree, prefix=""):
  """{'model.h_channels': 64, ...} of a nested config dict."""
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(flatten(value, f"{prefix}{key}."))
    else:
      flat[prefix + key] = value
  return flat


def peek_latest(workdir):
  """(latest step, its saved config dict) of `<workdir>/checkpoints`, or (None, None) when there
  is none; creates nothing."""
  directory = paths.resolve(workdir) / CHECKPOINT_DIR
  if not directory.exists():
    return None, None
  manager = reading_manager(directory)
  try:
    step = manager.latest_step()
    return (step, read_config(manager, step)) if step else (None, None)
  finally:
    manager.close()


def read_config(manager, step):
  """The config dict saved with `step` (the `config` item)."""
  return manager.restore(step, args=ocp.args.Composite(**{CONFIG: ocp.args.JsonRestore()}))[CONFIG]


def check_params_fit(manager, step, target_params, config):
  """Raises ValueError, naming the config keys that differ, unless the parameters saved at `step`
  have the shapes of `target_params` (the model `config` builds). Nothing is restored.

  Orbax would fail too, but deep inside TensorStore, naming only an array shape and suggesting
  to truncate it.
  """
  saved = _shapes_by_path(manager.item_metadata(step)[PARAMS])
  expected = _shapes_by_path(target_params)
  problems = [f"{path}: saved {saved.get(path, 'nothing')}, model needs {shape}"
              for path, shape in expected.items() if saved.get(path) != shape]
  problems += [f"{path}: saved {shape}, not in the model" for path, shape in saved.items()
               if path not in expected]
  if not problems:
    return
  shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3
                                     else "")
  saved_config = flatten(read_config(manager, step))
  wanted = flatten(config.to_dict())
  differing = [f"{key}={saved_config.get(key)!r} in the checkpoint but {wanted[key]!r} now"
               for key in sorted(wanted) if key.startswith(("model.", "data.image_size"))
               and saved_config.get(key) != wanted[key]]
  if differing:
    raise ValueError(
        f"the checkpoint of step {step} in {manager.directory} is of another model size: "
        f"{'; '.join(differing)}. Resume with the checkpoint's values (e.g. "
        f"--config.{differing[0].split('=')[0]}=...), or give the new model a new --workdir. "
        f"Parameter shapes that differ: {shown}.")
  raise ValueError(
      f"the `params` item of step {step} in {manager.directory} does not match the model its own "
      f"config describes: {shown}. Was the checkpoint written by another version of gqn_jax, or "
      "its config edited?")
