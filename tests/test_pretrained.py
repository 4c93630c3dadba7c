"""The model in the box: pretrained/shepard_metzler_7_parts_small loads with no training, stays small,
and draws held-out scenes better than the mean training image (how it was trained: its README);
and `python -m gqn_jax.export`, which made it."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from gqn_jax.trained import evaluate
from gqn_jax.trained import restore
from gqn_jax.trained import run_scenes

PRETRAINED = "pretrained/shepard_metzler_7_parts_small"
MAX_BYTES = 10 * 2 ** 20


@pytest.fixture(scope="module")
def pretrained(repo_dir, procedural_cache):
  trained = restore.load(repo_dir / PRETRAINED)
  trained.config.data.procedural_cache = procedural_cache  # render its scenes in the test's cache
  return trained


def test_it_is_small_and_loads_as_float32(repo_dir, pretrained):
  size = sum(os.path.getsize(os.path.join(folder, name))
             for folder, _, names in os.walk(repo_dir / PRETRAINED) for name in names)
  assert size <= MAX_BYTES, size
  assert {leaf.dtype for leaf in jax.tree.leaves(pretrained.params)} == {np.dtype("float32")}
  assert pretrained.config.data.root == "~/gqn-datasets"  # no one's home folder in particular


def test_it_beats_the_mean_image_on_held_out_scenes(pretrained):
  config = pretrained.config
  baselines = evaluate.baseline_images(config, num_scenes=100)
  results = evaluate.evaluate_stream(
      pretrained, run_scenes.iter_scenes(config, "test", 48), jax.random.key(0), batch_size=16,
      num_samples=8, baselines=baselines)
  mean_image = results["baselines"]["mean_image"]["psnr_db"]
  # The margins sit just below what these 48 scenes measure (docs/learning.md, "The pretrained
  # model"). The keys are fixed, so the numbers move only when the model, the data or the
  # evaluation changes: a regression of a fifth of a dB fails.
  assert results["psnr_db"][-1] > mean_image + 0.7, (results["psnr_db"], mean_image)
  assert results["psnr_db"][-1] > results["psnr_db"][0] + 0.65, results["psnr_db"]  # the context


def test_export_writes_a_small_checkpoint_that_restores_the_model(tiny_run_workdir, tmp_path,
                                                                   repo_dir):
  result = subprocess.run(
      [sys.executable, "-m", "gqn_jax.export", f"--workdir={tiny_run_workdir}",
       f"--out={tmp_path}"], capture_output=True, text=True, check=False, cwd=repo_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  original, shipped = restore.load(tiny_run_workdir), restore.load(tmp_path)
  assert shipped.step == original.step
  assert sorted(os.listdir(tmp_path / "checkpoints" / str(shipped.step))) == [
      "_CHECKPOINT_METADATA", "commit_success.txt", "config", "params"]  # no opt_state, no data
  for a, b in zip(jax.tree.leaves(original.params), jax.tree.leaves(shipped.params)):
    assert b.dtype == np.float32
    np.testing.assert_allclose(b, a, rtol=2 ** -10, atol=1e-6)  # float16 storage
  assert shipped.config.data.procedural_cache == "~/.cache/gqn_jax/procedural"
  assert shipped.config.model == original.config.model
