"""A trained model as a small checkpoint to ship: parameters (float16 by default) and config only.

  python -m gqn_jax.export --workdir=RUN --out=pretrained/shepard_metzler_7_parts_small
(the command line is gqn_jax/export.py; the work is done here.)

The result is a `<out>/checkpoints/<step>/` that `gqn_jax.trained.restore.load(out)` (and so
`python -m gqn_jax.render` and `evaluate`) reads like any training workdir: the float16 parameters
are cast back to float32 on restore (relative rounding at most 2^-11, i.e. 0.05%). Left out: the
Adam moments and the input iterator (twice the parameters' size, and more), which only resuming
training needs. The config's data paths become the defaults of whoever loads it ('~/...'), since
the exporting machine's folders mean nothing elsewhere.
"""

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from gqn_jax.runs import checkpointing
from gqn_jax.runs import digests
from gqn_jax.runtime import paths
from gqn_jax.trained import restore

PORTABLE_DATA_PATHS = {"root": "~/gqn-datasets", "procedural_cache": "~/.cache/gqn_jax/procedural"}


def export(workdir, out, step=None, dtype="float16"):
  """Writes params (cast to `dtype`) and config of `step` (default latest) under `out`."""
  trained = restore.load(workdir, step)
  params = jax.tree.map(
      lambda leaf: leaf.astype(dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf,
      trained.params)
  config = trained.config.to_dict()
  config["data"].update(PORTABLE_DATA_PATHS)
  directory = paths.resolve(out) / checkpointing.CHECKPOINT_DIR
  handlers = {checkpointing.PARAMS: ocp.StandardCheckpointHandler(),
              checkpointing.CONFIG: ocp.JsonCheckpointHandler()}
  with ocp.CheckpointManager(directory, item_handlers=handlers) as manager:
    manager.save(trained.step, args=ocp.args.Composite(**{
        checkpointing.PARAMS: ocp.args.StandardSave(params),
        checkpointing.CONFIG: ocp.args.JsonSave(config)}))
    manager.wait_until_finished()
  digests.write(directory, trained.step)  # what a restore checks the shipped files against
  return directory / str(trained.step)
