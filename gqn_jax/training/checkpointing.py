"""Orbax checkpoints of a training run, including the position of the tf.data input iterator.

A step directory under `<workdir>/checkpoints/` is a Composite with items
  params     StandardSave of the model params (what gqn_jax.trained.restore reads),
  opt_state  StandardSave of the optax state (its step count drives nothing: schedules use the
             checkpoint's step),
  config     JsonSave of config.to_dict(),
  data       the tf.data iterator, one tf.train.Checkpoint file per process (see below).
Orbax writes a step into a temporary directory and renames it when every item is complete, so a
crash during a save leaves the previous step as the latest usable one.

Why checkpoint the iterator rather than make batches a function of (seed, step): the pipeline
shuffles a stream of scenes and samples contexts on the fly; regenerating batch s from scratch would
mean replaying s batches of JPEG decoding. tf.data can save its own state (shuffle buffers and
random-op seeds included), so a resumed run sees exactly the batches an uninterrupted one would.
"""

import dataclasses

import jax
import orbax.checkpoint as ocp

from gqn_jax import paths

CHECKPOINT_DIR = "checkpoints"  # <workdir>/checkpoints holds the CheckpointManager's steps
PARAMS = "params"
OPT_STATE = "opt_state"
CONFIG = "config"
DATA = "data"


class TfIteratorHandler(ocp.CheckpointHandler):
  """Saves and restores tf.data iterators with tf.train.Checkpoint, one prefix per process.

  tf.data state is host-local (each process reads its own shards), so every process writes its own
  `process_<i>` prefix into the item directory; Orbax has already created that directory on
  every process.
  """

  def save(self, directory, args):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.train.Checkpoint(iterator=args.iterator).write(_process_prefix(directory))

  def restore(self, directory, args):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    prefix = _process_prefix(directory)
    if not tf.io.gfile.exists(prefix + ".index"):
      raise FileNotFoundError(
          f"no input-iterator state for process {jax.process_index()} at {prefix}; was this "
          "checkpoint written with a different number of processes? Restart with the same "
          "process count, or start a fresh workdir.")
    tf.train.Checkpoint(iterator=args.iterator).read(prefix).assert_consumed()
    return args.iterator


def _process_prefix(directory):
  return str(paths.resolve(directory) / f"process_{jax.process_index()}")


@ocp.args.register_with_handler(TfIteratorHandler, for_save=True)
@dataclasses.dataclass
class TfIteratorSave(ocp.args.CheckpointArgs):
  iterator: object


@ocp.args.register_with_handler(TfIteratorHandler, for_restore=True)
@dataclasses.dataclass
class TfIteratorRestore(ocp.args.CheckpointArgs):
  iterator: object  # restored in place and returned


def create_manager(workdir, max_to_keep):
  """The CheckpointManager of a run: `<workdir>/checkpoints`, async saves, last `max_to_keep`."""
  options = ocp.CheckpointManagerOptions(
      max_to_keep=max_to_keep, create=True, enable_async_checkpointing=True)
  return ocp.CheckpointManager(
      paths.resolve(workdir) / CHECKPOINT_DIR,
      item_names=(PARAMS, OPT_STATE, CONFIG, DATA), options=options)


def save(manager, step, params, opt_state, config, train_iterator):
  """Starts an asynchronous save of everything a resumed run needs; returns at once."""
  manager.save(step, args=ocp.args.Composite(**{
      PARAMS: ocp.args.StandardSave(params),
      OPT_STATE: ocp.args.StandardSave(opt_state),
      CONFIG: ocp.args.JsonSave(config.to_dict()),
      DATA: TfIteratorSave(train_iterator),
  }))


def restore(manager, step, abstract_params, abstract_opt_state, train_iterator):
  """Restores (params, opt_state) of `step` onto the shardings of the abstract trees.

  The input iterator is restored in place.
  """
  restored = manager.restore(step, args=ocp.args.Composite(**{
      PARAMS: ocp.args.StandardRestore(abstract_params),
      OPT_STATE: ocp.args.StandardRestore(abstract_opt_state),
      DATA: TfIteratorRestore(train_iterator),
  }))
  return restored[PARAMS], restored[OPT_STATE]
