"""Entry point: `python -m gqn_jax.main --config=configs/rooms.py[:small] [--workdir=DIR]`.

A thin command line over gqn_jax.training.train.train_and_evaluate.

Any config value can be overridden, e.g. `--config.train.batch_size=72`; a misspelt key is an
error (the config is locked). Running the same command again with the same workdir resumes from
its latest checkpoint. SIGTERM or Ctrl-C checkpoints the step in flight and exits with 143 or 130
(a second Ctrl-C quits at once); 0 means the run reached num_steps.
"""

import hashlib
import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from gqn_jax import compile_cache
from gqn_jax import console
from gqn_jax import host_memory

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


def default_workdir(config_path, config):
  """/tmp/gqn_jax/<dataset>[_<arg>][_<hash of the overrides>]: distinct configs do not resume
  each other's checkpoints. The hash covers the --config.x=y overrides that change anything but
  how long to run and how often to log or save, so changing the learning rate on the command
  line starts a new run, while --config.train.num_steps=N continues the same one."""
  _, _, arg = (config_path or "").partition(":")
  suffix = "_" + arg.replace(",", "_") if arg else ""
  from gqn_jax.runs import config_files  # pylint: disable=g-import-not-at-top
  from gqn_jax.training import run_guard  # pylint: disable=g-import-not-at-top
  changes = run_guard.config_changes(config_files.load(config_path).to_dict(), config.to_dict())
  overrides = sorted(f"{key}={new!r}" for key, (_, new) in changes.items()
                     if key not in run_guard.RESUMABLE_CHANGES)
  if overrides:
    suffix += "_" + hashlib.sha1("\n".join(overrides).encode("utf-8")).hexdigest()[:8]
  return os.path.join("/tmp/gqn_jax", f"{config.data.name}{suffix}")


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
  from gqn_jax.training import train  # pylint: disable=g-import-not-at-top

  workdir = _WORKDIR.value or default_workdir(flags.FLAGS["config"].config_filename, config)
  logging.info("workdir: %s (the whole config goes to %s)", workdir,
               os.path.join(workdir, "config.json"))
  from gqn_jax.training import preemption  # pylint: disable=g-import-not-at-top
  try:
    train.train_and_evaluate(config, workdir, allow_config_change=_ALLOW_CONFIG_CHANGE.value)
  except preemption.RunStopped as stopped:
    logging.info("%s", stopped)
    sys.exit(stopped.exit_code)  # 143 after SIGTERM, 130 after Ctrl-C: 0 means finished
  if _REPORT.value:
    report(workdir, _REPORT_SCENES.value, jax.process_count())


def report(workdir, num_scenes, process_count):
  """write_report, from a single-process run. Restoring a checkpoint is collective under
  jax.distributed, so the main process of several would wait for the others forever: there it
  says how to make the report from one process afterwards."""
  if process_count > 1:
    logging.info("no report on a run of %d processes: score and draw it from one process with "
                 "`python -m gqn_jax.evaluate --workdir=%s` and `python -m gqn_jax.render "
                 "--workdir=%s --out=render.png`", process_count, workdir, workdir)
    return False
  write_report(workdir, num_scenes)
  return True


def write_report(workdir, num_scenes):
  """The finished model against the baselines, and pictures of it; logs where they are."""
  from gqn_jax.trained import evaluate  # pylint: disable=g-import-not-at-top
  from gqn_jax.trained import render  # pylint: disable=g-import-not-at-top
  results = evaluate.run(workdir, num_scenes=num_scenes, num_samples=8, baselines=True)
  png, gif = render.run(workdir, num_scenes=4, num_samples=4, num_frames=24)
  psnr = " ".join(f"{value:.2f}" for value in results["psnr_db"])
  baselines = results["baselines"]
  logging.info(
      "test PSNR (dB) with 0..%d context views: %s; mean training image %.2f, background %.2f "
      "(object pixels: %.2f with all views, %.2f and %.2f)", results["num_context"][-1], psnr,
      baselines["mean_image"]["psnr_db"], baselines["background"]["psnr_db"],
      results["psnr_object_db"][-1], baselines["mean_image"]["psnr_object_db"],
      baselines["background"]["psnr_object_db"])
  logging.info("wrote %s, %s, %s and %s", os.path.join(workdir, "evaluation.json"),
               os.path.join(workdir, "evaluation.png"), png, gif)


def resolve_config_argument(argv):
  """argv with --config's file found (config_files.find: from here or from the checkout), so that
  `--config=configs/rooms.py` works from any folder; a file that is nowhere exits with one line
  saying what was looked for and the right form, before anything heavy is imported."""
  argv = list(argv)
  for index, word in enumerate(argv):
    if word.startswith("--config="):
      prefix, value = "--config=", word[len("--config="):]
    elif word == "--config" and index + 1 < len(argv):
      index, prefix, value = index + 1, "", argv[index + 1]
    else:
      continue
    path, colon, arg = value.partition(":")
    from gqn_jax.runs import config_files  # pylint: disable=g-import-not-at-top
    try:
      found = config_files.find(path)
    except config_files.ConfigFileError as error:
      sys.exit(f"gqn_jax.main: {error}")
    if not os.path.isfile(path):  # found under the checkout, not from here
      argv[index] = f"{prefix}{found}{colon}{arg}"
  return argv


if __name__ == "__main__":
  host_memory.configure()  # before JAX starts its threads
  flags.mark_flags_as_required(["config"])
  app.run(main, argv=resolve_config_argument(sys.argv))
