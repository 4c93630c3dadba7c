"""The models in the box: each of pretrained/ loads with no training, stays small, and draws
held-out scenes better than the mean training image and its own 0-view prediction (how each was
trained: its README); and `python -m gqn_jax.export`, which made them."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from gqn_jax.trained import evaluate
from gqn_jax.trained import restore
from gqn_jax.trained import run_scenes

MAX_BYTES = 10 * 2 ** 20
# Each model in the box, with the margins its prediction from all context views must keep over the
# mean training image and over its own 0-view prediction on 48 held-out scenes (8 prior samples,
# fixed keys). Each sits just below what those scenes measure (the model's README), so the numbers
# move only when the model, the data or the evaluation changes: a regression of a fifth of a dB
# fails.
MODELS = {
    "rooms_ring_camera_small": (4.15, 4.4),  # measured: +4.34, +4.60
    "shepard_metzler_7_parts_small": (0.7, 0.65),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def pretrained(request, repo_dir, procedural_cache):
  trained = restore.load(repo_dir / "pretrained" / request.param)
  trained.config.data.procedural_cache = procedural_cache  # render its scenes in the test's cache
  return request.param, trained


def test_it_is_small_and_loads_as_float32(repo_dir, pretrained):
  name, pretrained = pretrained
  folder_of_model = repo_dir / "pretrained" / name
  size = sum(os.path.getsize(os.path.join(folder, name))
             for folder, _, names in os.walk(folder_of_model) for name in names)
  assert size <= MAX_BYTES, size
  assert {leaf.dtype for leaf in jax.tree.leaves(pretrained.params)} == {np.dtype("float32")}
  assert pretrained.config.data.root == "~/gqn-datasets"  # no one's home folder in particular
  assert (folder_of_model / "README.md").is_file()


def test_it_beats_the_mean_image_on_held_out_scenes(pretrained):
  name, pretrained = pretrained
  config = pretrained.config
  baselines = evaluate.baseline_images(config, num_scenes=100)
  results = evaluate.evaluate_stream(
      pretrained, run_scenes.iter_scenes(config, "test", 48), jax.random.key(0), batch_size=16,
      num_samples=8, baselines=baselines)
  mean_image = results["baselines"]["mean_image"]["psnr_db"]
  over_mean_image, over_no_context = MODELS[name]
  assert results["psnr_db"][-1] > mean_image + over_mean_image, (results["psnr_db"], mean_image)
  assert results["psnr_db"][-1] > results["psnr_db"][0] + over_no_context, results["psnr_db"]


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
