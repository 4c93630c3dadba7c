"""Command line: `python -m gqn_jax.evaluate --workdir=DIR [--num_scenes=N] [--out=DIR]`.

Scores a trained run's test split for 0..K context views and writes evaluation.json and
evaluation.png; the metrics are described in gqn_jax.trained.evaluate, which does the work.
"""

from absl import app
from absl import flags

from gqn_jax.runtime import compile_cache
from gqn_jax.runtime import console
from gqn_jax.runtime import errors
from gqn_jax.runtime import host_memory

_COMPILATION_CACHE = compile_cache.define_flag()
_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir holding checkpoints/.")
_OUT = flags.DEFINE_string("out", None, "Folder for evaluation.json/.png (default: workdir).")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
_NUM_SCENES = flags.DEFINE_integer("num_scenes", None, "Test scenes to use (default: all).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Scenes per compiled call.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 1, "Prior samples in the predicted mean.")
_SEED = flags.DEFINE_integer("seed", 0, "Seeds view permutations and sampling.")
_DATA_ROOT = flags.DEFINE_string("data_root", None, "Override config.data.root.")
_BASELINES = flags.DEFINE_bool(
    "baselines", True, "Also score the mean training image and the plain background.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  console.quiet_libraries()
  compile_cache.setup(_COMPILATION_CACHE.value)
  from gqn_jax.trained import evaluate  # pylint: disable=g-import-not-at-top  (after configure)
  results = evaluate.run(_WORKDIR.value, _OUT.value, _STEP.value, _NUM_SCENES.value,
                         _BATCH_SIZE.value, _NUM_SAMPLES.value, _SEED.value, _DATA_ROOT.value,
                         _BASELINES.value)
  width = max(len(name) for name in evaluate.METRICS)
  for name in evaluate.METRICS:
    values = "  ".join(f"{value:9.4f}" for value in results[name])
    print(f"{name:<{width}}  {values}")
  for name, scores in results.get("baselines", {}).items():
    print(f"baseline {name}: " + "  ".join(
        f"{metric} {scores[metric]:.4f}" for metric in evaluate.BASELINE_METRICS))


if __name__ == "__main__":
  host_memory.configure()  # before numpy or JAX starts a thread (main imports them)
  flags.mark_flag_as_required("workdir")
  app.run(errors.command_line("gqn_jax.evaluate", main))
