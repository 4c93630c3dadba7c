"""Tests of gqn_jax.trained.evaluate (metrics per number of context views) and its command line,
`python -m gqn_jax.evaluate` (JSON and plot)."""

import json
import math
import subprocess
import sys

import jax
import numpy as np
from PIL import Image
import pytest

from gqn_jax.trained import evaluate
from gqn_jax.trained import run_scenes


def test_view_orders_are_permutations_fixed_per_scene():
  orders = evaluate.view_orders(range(4), 10, seed=3)
  assert orders.shape == (4, 10)
  assert all(sorted(row) == list(range(10)) for row in orders)
  np.testing.assert_array_equal(evaluate.view_orders([2, 3], 10, seed=3), orders[2:])
  assert not np.array_equal(evaluate.view_orders(range(4), 10, seed=4), orders)


def test_evaluate_scenes_keys_finite_values_and_units(trained):
  frames, cameras = run_scenes.load_test_scenes(trained.config, num_scenes=3)
  results = evaluate.evaluate_scenes(trained, frames, cameras, jax.random.key(0), batch_size=2)
  max_context = trained.config.data.max_context
  assert results["num_context"] == list(range(max_context + 1))
  assert results["num_scenes"] == 3 and results["step"] == trained.step
  assert results["sigma"] == pytest.approx(trained.sigma)
  for name in evaluate.METRICS:
    assert len(results[name]) == max_context + 1
    assert len(results[name + "_stderr"]) == max_context + 1
    assert all(math.isfinite(v) for v in results[name] + results[name + "_stderr"])
  elbo = np.array(results["elbo_nats_per_image"])
  np.testing.assert_allclose(elbo, -(np.array(results["kl_nats"]) + np.array(results["nll_nats"])),
                             rtol=1e-5)
  num_dims = trained.image_size ** 2 * 3
  np.testing.assert_allclose(results["bits_per_dim"], -elbo / (num_dims * math.log(2)), rtol=1e-5)
  assert min(results["kl_nats"]) >= 0.0
  assert all(0.0 <= mse <= 1.0 for mse in results["mse"])
  # The mean of per-image PSNRs is at most the PSNR of the mean MSE (Jensen), never above.
  for mse, psnr in zip(results["mse"], results["psnr_db"]):
    assert psnr >= 10 * math.log10(1 / mse) - 1e-4
  again = evaluate.evaluate_stream(trained, zip(frames, cameras), jax.random.key(0), batch_size=2)
  assert again == results
  # One scene in a block of two: padded for the compiled shape, the padding discarded.
  single = evaluate.evaluate_scenes(trained, frames[2:], cameras[2:], jax.random.key(0),
                                    batch_size=2)
  assert single["num_scenes"] == 1 and all(math.isfinite(v) for v in single["mse"])


def test_object_psnr_counts_only_pixels_that_differ_from_the_background():
  background = np.zeros((4, 4, 3), np.float32)
  targets = np.zeros((2, 4, 4, 3), np.float32)
  targets[0, :2, :2] = [1.0, 0.5, 0.0]  # an object of 4 pixels; the second image is empty
  mask = evaluate.object_mask(targets, background)
  assert mask.sum(axis=(1, 2)).tolist() == [4, 0]
  predictions = np.full_like(targets, 0.3)
  predictions[0, :2, :2] = [1.0, 0.5, 0.1]  # off by 0.1 in one channel of the object only
  psnr = evaluate.object_psnr(predictions, targets, mask)
  assert psnr[0] == pytest.approx(10 * math.log10(3 / 0.01), rel=1e-5)
  assert np.isnan(psnr[1])  # no object pixels: left out of the means, not counted as perfect


def test_baselines_are_scored_on_the_same_query_views(trained):
  frames, cameras = run_scenes.load_test_scenes(trained.config, num_scenes=3)
  images = {"mean_image": frames.mean(axis=(0, 1)), "background": np.median(frames, axis=(0, 1))}
  results = evaluate.evaluate_scenes(trained, frames, cameras, jax.random.key(0), batch_size=2,
                                     baselines=images)
  queries = frames[np.arange(3), evaluate.view_orders(range(3), frames.shape[1], seed=0)[:, 0]]
  for name, image in images.items():
    mse = np.mean(np.square(np.clip(image, 0, 1) - queries), axis=(1, 2, 3))
    assert results["baselines"][name]["psnr_db"] == pytest.approx(
        float(np.mean(-10 * np.log10(mse))), rel=1e-5)
    assert math.isfinite(results["baselines"][name]["psnr_object_db"])
  assert len(results["psnr_object_db"]) == trained.config.data.max_context + 1


def test_evaluate_scenes_checks_the_context_size(trained):
  frames, cameras = run_scenes.load_test_scenes(trained.config, num_scenes=1)
  with pytest.raises(ValueError, match="max_context=10 leaves no query view: .* 10 views per"):
    evaluate.evaluate_scenes(trained, frames, cameras, jax.random.key(0), max_context=10)
  with pytest.raises(ValueError, match="at least one scene"):
    evaluate.evaluate_stream(trained, iter([]), jax.random.key(0))


def test_cli_writes_json_and_plot(tiny_run_workdir, tmp_path, repo_dir):
  result = subprocess.run(
      [sys.executable, "-m", "gqn_jax.evaluate", f"--workdir={tiny_run_workdir}",
       "--num_scenes=2", f"--out={tmp_path}"],
      capture_output=True, text=True, check=False, cwd=repo_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(tmp_path / "evaluation.json", encoding="utf-8") as file:
    results = json.load(file)
  assert results["num_scenes"] == 2
  assert set(evaluate.METRICS) <= set(results)
  with Image.open(tmp_path / "evaluation.png") as plot:
    assert plot.format == "PNG" and plot.size[0] > 500
  assert "psnr_db" in result.stdout
  assert set(results["baselines"]) == {"mean_image", "background"}  # on by default
  assert "baseline mean_image: psnr_db" in result.stdout
