"""gqn_jax.training.metrics: the formulas that training, evaluation and restored models share,
and the JSON-lines file of a run."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from gqn_jax.runs import image_metrics
from gqn_jax.runtime import paths
from gqn_jax.training import metrics


def test_nats_per_image_and_bits_per_dim():
  neg_elbo = jnp.array([1000.0, 2000.0])
  assert float(image_metrics.nats_per_image(neg_elbo)) == pytest.approx(1500.0)
  per_dim = 64 * 64 * 3 * np.log(2)
  assert float(image_metrics.bits_per_dim(image_metrics.nats_per_image(neg_elbo), 64)) == pytest.approx(
      1500.0 / per_dim)
  # Elementwise: per-scene values, whose mean is the bits per dim of the mean.
  np.testing.assert_allclose(image_metrics.bits_per_dim(neg_elbo, 64), [1000 / per_dim, 2000 / per_dim],
                             rtol=1e-6)
  assert image_metrics.bits_per_dim(3.0, 2) == pytest.approx(3.0 / (12 * np.log(2)))


def test_ssim_per_image_closed_forms():
  rng = np.random.default_rng(0)
  target = rng.uniform(size=(2, 16, 16, 3)).astype(np.float32)
  np.testing.assert_allclose(image_metrics.ssim_per_image(target, target), [1.0, 1.0], atol=1e-5)
  # A constant image c against a constant d: only the luminance term is left,
  # (2cd + C1) / (c^2 + d^2 + C1) with C1 = (0.01)^2.
  c, d = 0.3, 0.6
  constant = lambda value: np.full((1, 16, 16, 3), value, np.float32)
  luminance = (2 * c * d + 1e-4) / (c ** 2 + d ** 2 + 1e-4)
  np.testing.assert_allclose(image_metrics.ssim_per_image(constant(c), constant(d)), [luminance],
                             rtol=1e-4)
  # Predictions are clipped to [0, 1] first, as for the MSE.
  np.testing.assert_allclose(image_metrics.ssim_per_image(constant(1.7), constant(1.0)), [1.0],
                             atol=1e-5)
  noisy = np.clip(target + rng.normal(0, 0.2, target.shape), 0, 1).astype(np.float32)
  assert np.all(np.asarray(image_metrics.ssim_per_image(noisy, target)) < 0.9)


def test_mse_per_image_and_psnr():
  target = np.zeros((3, 4, 4, 3), np.float32)
  prediction = target.copy()
  prediction[0] = 0.1  # MSE 0.01: 20 dB
  prediction[1, 0, 0, 0] = 1.0  # one channel of one pixel fully wrong: MSE 1/48
  mse = image_metrics.mse_per_image(prediction, target)
  np.testing.assert_allclose(mse, [0.01, 1 / 48, 0.0], rtol=1e-5)
  psnr = image_metrics.psnr(mse)
  np.testing.assert_allclose(psnr[:2], [20.0, 10 * np.log10(48)], rtol=1e-5)
  assert float(psnr[2]) == pytest.approx(100.0)  # a perfect prediction is capped, not infinite


def read_steps(path):
  return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def test_resumed_jsonl_drops_the_steps_after_the_checkpoint(tmp_path):
  path = tmp_path / "metrics.jsonl"
  first = metrics.JsonLines(path)
  for step in (1, 2, 3, 4):  # a run killed after step 4, whose last checkpoint is step 2
    first.append({"step": step, "split": "train"})
  resumed = metrics.JsonLines(path, resume_step=2)
  assert read_steps(path) == [1, 2]
  for step in (3, 4):
    resumed.append({"step": step, "split": "train"})
  assert read_steps(path) == [1, 2, 3, 4]


def test_jsonl_on_an_object_store_is_written_once_per_flush(tmp_path, monkeypatch):
  writes = []
  original = type(paths.resolve(tmp_path)).write_text

  def counting_write(self, text, *args, **kwargs):
    writes.append(len(text))
    return original(self, text, *args, **kwargs)

  monkeypatch.setattr(paths, "is_url", lambda path: True)  # object stores have no append
  monkeypatch.setattr(type(paths.resolve(tmp_path)), "write_text", counting_write)
  path = tmp_path / "metrics.jsonl"
  lines = metrics.JsonLines(path)
  for step in range(1, 101):
    lines.append({"step": step, "split": "train"})
  assert not writes  # not one rewrite of the whole file per line
  lines.flush()
  lines.flush()  # nothing new: nothing written
  assert len(writes) == 1
  assert read_steps(path) == list(range(1, 101))


def test_a_torn_last_line_is_dropped_with_a_warning(tmp_path, caplog):
  path = tmp_path / "metrics.jsonl"
  path.write_text('{"step": 1, "split": "train"}\n{"step": 2, "split": "train"}\n{"step": 3, "sp')
  lines = metrics.JsonLines(path, resume_step=10)
  lines.append({"step": 3, "split": "train"})
  assert read_steps(path) == [1, 2, 3]
  assert "dropped its last line" in caplog.text


def test_a_complete_last_line_without_its_newline_is_kept_apart_from_the_next(tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text('{"step": 1, "split": "train"}\n{"step": 2, "split": "train"}')
  lines = metrics.JsonLines(path, resume_step=10)
  lines.append({"step": 3, "split": "train"})
  assert read_steps(path) == [1, 2, 3]


def test_a_damaged_line_in_the_middle_is_an_error_naming_it(tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text('{"step": 1, "split": "train"}\n{"ste\n{"step": 3, "split": "train"}\n')
  with pytest.raises(ValueError, match="metrics.jsonl, line 2"):
    metrics.JsonLines(path, resume_step=10)
