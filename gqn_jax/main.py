"""Entry point: `python -m gqn_jax.main --config=configs/rooms.py[:small] [--workdir=DIR]`.

A thin command line over gqn_jax.training.train.train_and_evaluate.

Any config value can be overridden, e.g. `--config.train.batch_size=72`; a misspelt key is an
error (the config is locked). Running the same command again with the same workdir resumes from
its latest checkpoint. SIGTERM or Ctrl-C checkpoints the step in flight and exits with 143 or 130
(a second Ctrl-C quits at once); 0 means the run reached num_steps.
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from gqn_jax.runtime import compile_cache
from gqn_jax.runtime import console
from gqn_jax.runtime import errors
from gqn_jax.runtime import host_memory

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Training config file, e.g. configs/rooms.py or configs/rooms.py:small "
    "(relative to the repository root, or an absolute path).",
    lock_config=True)
_REPORT = flags.DEFINE_bool(
    "report", True, "When training has finished, score the test scenes against the mean-image and "
    "background baselines and draw novel views: <workdir>/evaluation.json/.png and "
    "render.png/.gif (one process runs, so on a pod the main process does it).")
_REPORT_SCENES = flags.DEFINE_integer("report_scenes", 100, "Test scenes the report scores.")
_ALLOW_CONFIG_CHANGE = flags.DEFINE_bool(
    "allow_config_change", False, "Resume a workdir's run even though the config differs from "
    "the one it was started with (beyond num_steps and the log, eval and checkpoint intervals); "
    "every start is recorded in <workdir>/config_history.jsonl.")
_COMPILATION_CACHE = compile_cache.define_flag()
_WORKDIR = flags.DEFINE_string(
    "workdir", None,
    "Directory for checkpoints, metrics.jsonl, TensorBoard events and config.json; defaults to "
    "/tmp/gqn_jax/<dataset>_<config arg>.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  console.quiet_libraries()
  logging.info("%s", host_memory.log_line())
  config = _CONFIG.value
  compile_cache.setup(_COMPILATION_CACHE.value)
  if config.data.source != "stream":  # the scene stream needs no TensorFlow
    from gqn_jax.data import reader  # pylint: disable=g-import-not-at-top
    reader.import_tf()  # tf.data only reads files: TensorFlow is kept off JAX's accelerators
  from gqn_jax.training import distributed  # pylint: disable=g-import-not-at-top
  distributed.maybe_initialize()
  import jax  # pylint: disable=g-import-not-at-top  (after jax.distributed is initialised)
  from gqn_jax.training import preemption  # pylint: disable=g-import-not-at-top
  from gqn_jax.training import run_guard  # pylint: disable=g-import-not-at-top
  from gqn_jax.training import train  # pylint: disable=g-import-not-at-top

  workdir = _WORKDIR.value or run_guard.default_workdir(flags.FLAGS["config"].config_filename,
                                                        config)
  logging.info("workdir: %s (the whole config goes to %s)", workdir,
               os.path.join(workdir, "config.json"))
  try:
    train.train_and_evaluate(config, workdir, allow_config_change=_ALLOW_CONFIG_CHANGE.value)
  except preemption.RunStopped as stopped:
    logging.info("%s", stopped)
    sys.exit(stopped.exit_code)  # 143 after SIGTERM, 130 after Ctrl-C: 0 means finished
  if _REPORT.value:
    from gqn_jax.trained import report  # pylint: disable=g-import-not-at-top
    report.report(workdir, _REPORT_SCENES.value, jax.process_count())


def _config_argv(argv):
  """argv with --config found from any folder; one line (exit status 1) for a file that is
  nowhere, before anything heavy is imported."""
  from gqn_jax.runs import config_files  # pylint: disable=g-import-not-at-top
  try:
    return config_files.resolve_argv(argv)
  except config_files.ConfigFileError as error:
    sys.exit(f"gqn_jax.main: {error}")


if __name__ == "__main__":
  host_memory.configure()  # before numpy or JAX starts a thread (main imports them)
  flags.mark_flags_as_required(["config"])
  app.run(errors.command_line("gqn_jax.main", main), argv=_config_argv(sys.argv))
