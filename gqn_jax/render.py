"""Command line: `python -m gqn_jax.render --workdir=DIR [--out=FILE.png] [--gif=FILE.gif]`.

Draws novel views of a trained run's test scenes (a PNG grid) and a fly-around GIF; the pictures
are described in gqn_jax.trained.render, which does the work.
"""

from absl import app
from absl import flags

from gqn_jax.runtime import compile_cache
from gqn_jax.runtime import console
from gqn_jax.runtime import errors
from gqn_jax.runtime import host_memory

_COMPILATION_CACHE = compile_cache.define_flag()
_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir holding checkpoints/.")
_OUT = flags.DEFINE_string("out", None, "PNG grid path (default: <workdir>/render.png).")
_GIF = flags.DEFINE_string("gif", None, "Fly-around GIF path (default: --out with .gif).")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
_NUM_SCENES = flags.DEFINE_integer("num_scenes", 4, "Test scenes (grid rows).")
_NUM_CONTEXT = flags.DEFINE_integer("num_context", None, "Context views (default: max_context).")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 4, "Prior samples per target.")
_NUM_FRAMES = flags.DEFINE_integer("num_frames", 36, "Frames of the fly-around.")
_SCALE = flags.DEFINE_integer("scale", None, "Integer upscaling (default: to ~128 px).")
_SEED = flags.DEFINE_integer("seed", 0, "Random seed of the samples.")
_DATA_ROOT = flags.DEFINE_string("data_root", None, "Override config.data.root.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  console.quiet_libraries()
  compile_cache.setup(_COMPILATION_CACHE.value)
  from gqn_jax.trained import render  # pylint: disable=g-import-not-at-top  (after configure)
  png, gif = render.run(_WORKDIR.value, _OUT.value, _GIF.value, _STEP.value, _NUM_SCENES.value,
                        _NUM_CONTEXT.value, _NUM_SAMPLES.value, _NUM_FRAMES.value, _SCALE.value,
                        _SEED.value, _DATA_ROOT.value)
  print(f"wrote {png} and {gif}")


if __name__ == "__main__":
  host_memory.configure()  # before numpy or JAX starts a thread (main imports them)
  flags.mark_flag_as_required("workdir")
  app.run(errors.command_line("gqn_jax.render", main))
