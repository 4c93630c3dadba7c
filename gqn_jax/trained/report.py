"""The report that ends a training command: the finished model scored against the baselines on
the test scenes, and pictures of its novel views, written into the workdir."""

import os

from absl import logging

from gqn_jax.trained import evaluate
from gqn_jax.trained import render


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
