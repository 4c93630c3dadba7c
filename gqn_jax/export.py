"""Command line: `python -m gqn_jax.export --workdir=RUN --out=DIR [--step=N] [--dtype=float16]`.

Writes a trained run's parameters and config as a small checkpoint to ship (e.g. under
pretrained/); gqn_jax.trained.export does the work and says what is kept.
"""

from absl import app
from absl import flags

from gqn_jax.runtime import console
from gqn_jax.runtime import errors
from gqn_jax.trained import export

_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir holding checkpoints/.")
_OUT = flags.DEFINE_string("out", None, "Folder to write <out>/checkpoints/<step> into.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
_DTYPE = flags.DEFINE_enum("dtype", "float16", ["float16", "bfloat16", "float32"],
                           "Storage type of the parameters.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  console.quiet_libraries()
  print(export.export(_WORKDIR.value, _OUT.value, _STEP.value, _DTYPE.value))


if __name__ == "__main__":
  flags.mark_flags_as_required(["workdir", "out"])
  app.run(errors.command_line("gqn_jax.export", main))
