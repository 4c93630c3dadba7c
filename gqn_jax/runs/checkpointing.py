"""Orbax checkpoints of a training run, including the position of the tf.data input iterator.

A step directory under `<workdir>/checkpoints/` is a Composite with items
  params     StandardSave of the model params (what gqn_jax.trained.restore reads),
  opt_state  StandardSave of the optax state (its step count drives nothing: schedules use the
             checkpoint's step),
  config     JsonSave of config.to_dict(),
  data       the input's position, one file per process: a tf.data iterator's tf.train.Checkpoint,
             or a scene stream's counter as JSON (gqn_jax.scenes.stream).
Orbax writes a step into a temporary directory and renames it when every item is complete, so a
crash during a save leaves the previous step as the latest usable one. Once a step has committed,
the digests of its files are recorded beside it (gqn_jax.runs.digests), and every reader checks
them: `newest_intact` names each damaged step (a file changed, missing or unreadable, a config
that does not read) and falls back to the newest intact one; `set_aside` moves damaged steps of a
run out of the way (into `<workdir>/damaged_checkpoints/`, nothing deleted) before it resumes.

Why checkpoint the iterator rather than make batches a function of (seed, step): the pipeline
shuffles a stream of scenes and samples contexts on the fly; regenerating batch s from scratch would
mean replaying s batches of JPEG decoding. tf.data can save its own state (shuffle buffers and
random-op seeds included), so a resumed run sees exactly the batches an uninterrupted one would.
"""

import dataclasses
import json

from absl import logging
import jax
import orbax.checkpoint as ocp

from gqn_jax.runs import digests
from gqn_jax.runtime import errors
from gqn_jax.runtime import paths

CHECKPOINT_DIR = "checkpoints"  # <workdir>/checkpoints holds the CheckpointManager's steps
PARAMS = "params"
OPT_STATE = "opt_state"
CONFIG = "config"
DATA = "data"
DAMAGED_DIR = "damaged_checkpoints"  # <workdir>/damaged_checkpoints: steps set aside, kept


class DamagedCheckpointError(errors.ProjectError, ValueError):
  """No checkpoint of a directory is intact: each tried step is named with what failed."""


class CheckpointNotFoundError(errors.ProjectError, FileNotFoundError):
  """No checkpoint (or not the step asked for) where one was expected."""


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


class _DigestingManager(ocp.CheckpointManager):
  """A CheckpointManager that records the digests of each step it saves once the step has
  committed: when the next save starts (Orbax has waited for the previous one by then) and
  whenever the caller waits for the saves to finish. The main process writes them."""

  def __init__(self, directory, item_handlers, options):
    self._committing = []  # steps saved, not yet recorded, oldest first
    self._digest_dir = directory
    super().__init__(directory, item_handlers=item_handlers, options=options)

  def save(self, step, *args, **kwargs):
    self.wait_until_finished()  # what Orbax does before a save anyway; then record the last one
    saved = super().save(step, *args, **kwargs)
    if saved:
      self._committing.append(step)
    return saved

  def wait_until_finished(self):
    super().wait_until_finished()
    self._record_committed()

  def _record_committed(self):
    while self._committing:
      step = self._committing.pop(0)
      if jax.process_index() == 0 and (paths.resolve(self._digest_dir) / str(step)).exists():
        digests.write(self._digest_dir, step)
    if jax.process_index() == 0:
      digests.forget_removed(self._digest_dir)


def create_manager(workdir, max_to_keep):
  """The CheckpointManager of a run: `<workdir>/checkpoints`, async saves, last `max_to_keep`,
  each step's digests recorded once it has committed."""
  # cleanup_tmp_directories: a save that a crash interrupted leaves `<step>.orbax-checkpoint-tmp`
  # (up to 2 GB at the paper size); the next run removes it before it starts.
  options = ocp.CheckpointManagerOptions(
      max_to_keep=max_to_keep, create=True, enable_async_checkpointing=True,
      cleanup_tmp_directories=True)
  return _DigestingManager(paths.resolve(workdir) / CHECKPOINT_DIR, _item_handlers(), options)


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


def newest_intact(directory, step=None):
  """(step, its config dict, [(damaged step, what failed)]) of the newest step of `directory`
  (`<workdir>/checkpoints`) whose files match their digests and whose config reads; each newer
  step skipped is logged as one warning line. With `step`, only that step is tried
  (CheckpointNotFoundError when it was not saved). (None, None, []) when there is no checkpoint;
  DamagedCheckpointError when none of them is intact."""
  directory = paths.resolve(directory)
  if not directory.exists():
    return None, None, []
  with reading_manager(directory) as manager:
    saved = sorted(manager.all_steps(), reverse=True)
    if step is not None and step not in saved:
      raise CheckpointNotFoundError(
          f"no checkpoint for step {step} in {directory}; saved steps: {sorted(saved)}")
    steps = saved if step is None else [step]
    damaged = []
    for candidate in steps:
      problem = digests.check(directory, candidate)
      if problem is None or problem == digests.NOT_RECORDED:
        try:
          config = read_config(manager, candidate)
        except Exception as error:  # pylint: disable=broad-except  (any damage Orbax meets)
          problem = f"its config does not read ({type(error).__name__}: {str(error)[:120]})"
        else:
          if problem == digests.NOT_RECORDED:
            logging.info("the checkpoint of step %d in %s has no recorded digests (written before "
                         "they were): its files could not be checked", candidate, directory)
          return candidate, config, damaged
      damaged.append((candidate, problem))
      logging.warning("the checkpoint of step %d in %s is damaged: %s; %s", candidate, directory,
                      problem, "trying the one before it" if candidate != steps[-1] else
                      "no older one is left")
  if not steps:
    return None, None, []
  tried = "; ".join(f"step {s}: {problem}" for s, problem in damaged)
  raise DamagedCheckpointError(
      f"no intact checkpoint in {directory} (tried {tried}). Restore the folder from a copy, or "
      "start again in a new --workdir; the damaged files are kept as they are.")


def set_aside(workdir, damaged_steps):
  """Moves the step folders of `damaged_steps` to `<workdir>/damaged_checkpoints/` (kept for a
  look, out of the way of the run's next saves and of `latest_step`)."""
  directory = paths.resolve(workdir) / CHECKPOINT_DIR
  target = paths.resolve(workdir) / DAMAGED_DIR
  for step in damaged_steps:
    target.mkdir(parents=True, exist_ok=True)
    (directory / str(step)).rename(target / str(step))
    logging.warning("moved the damaged checkpoint of step %d to %s", step, target / str(step))
  digests.forget_removed(directory)


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
