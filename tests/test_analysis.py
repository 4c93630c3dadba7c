"""gqn_jax.trained.analysis: scene algebra, per-pixel uncertainty, expected information gain."""

import jax
import numpy as np
import pytest

from gqn_jax.trained import analysis
from gqn_jax.trained import run_scenes


@pytest.fixture(scope="module")
def scenes(trained):
  return run_scenes.load_test_scenes(trained.config, num_scenes=3)


def test_pixel_uncertainty_is_the_channel_mean_of_the_sample_std():
  samples = np.zeros((2, 4, 3, 5, 3), np.float32)  # [Q, S, H, W, 3]
  samples[:, :2, 1, 2, 0] = 1.0  # channel 0 of one pixel: half the samples 1, half 0 -> std 0.5
  samples[1, :, 0, 0, :] = np.arange(4)[:, None]  # std of 0..3 = sqrt(1.25) in all channels
  spread = np.asarray(analysis.pixel_uncertainty(samples))
  assert spread.shape == (2, 3, 5)
  assert spread[0, 1, 2] == pytest.approx(0.5 / 3)
  assert spread[1, 0, 0] == pytest.approx(np.sqrt(1.25))
  assert np.count_nonzero(spread) == 3
  with pytest.raises(ValueError, match=r"\[..., S, H, W, 3\]"):
    analysis.pixel_uncertainty(np.zeros((4, 5, 3)))


def test_scene_algebra_a_minus_a_plus_c_renders_c(trained, scenes):
  frames, cameras = scenes
  a = (frames[:1, :2], cameras[:1, :2])
  c = (frames[1:2, :3], cameras[1:2, :3])
  query = cameras[1:2, 4:6]
  key = jax.random.key(0)
  combined = analysis.scene_algebra(trained, a, a, c, query, key, num_samples=2)
  plain = trained.render(*c, query, key, num_samples=2)
  assert combined.images.shape == plain.images.shape == (1, 2, trained.image_size,
                                                        trained.image_size, 3)
  np.testing.assert_allclose(combined.samples, plain.samples, atol=1e-4)
  different = analysis.scene_algebra(trained, a, (frames[2:3, :2], cameras[2:3, :2]), c, query,
                                     key, num_samples=2)
  assert not np.allclose(different.samples, plain.samples, atol=1e-4)


def test_scene_algebra_needs_matching_scene_counts(trained, scenes):
  frames, cameras = scenes
  with pytest.raises(ValueError, match="same number of scenes"):
    analysis.scene_algebra(trained, (frames, cameras), (frames[:1], cameras[:1]),
                           (frames, cameras), cameras[:, :1], jax.random.key(0))


def test_expected_information_gain_is_a_finite_nonnegative_kl(trained, scenes):
  frames, cameras = scenes
  candidates = cameras[:2, 5:8]  # [B=2, V=3, 5]
  key = jax.random.key(1)
  eig = analysis.expected_information_gain(
      trained, frames[:2, :1], cameras[:2, :1], candidates, key, num_samples=3)
  assert eig.shape == (2, 3)
  assert np.all(np.isfinite(eig)) and np.all(np.asarray(eig) >= 0.0)
  again = analysis.expected_information_gain(
      trained, frames[:2, :1], cameras[:2, :1], candidates, key, num_samples=3)
  np.testing.assert_array_equal(eig, again)
  # The estimate is the average KL of the ELBO over the imagined views, recomputed here by hand.
  render_key, kl_key = jax.random.split(key)
  r = trained.represent(frames[:2, :1], cameras[:2, :1])
  imagined = trained.render_from_representation(r, candidates, render_key, 3).samples
  rows = np.repeat(np.arange(2), 9)
  terms = trained.elbo_from_representation(
      r[rows], imagined.reshape(18, *imagined.shape[3:]),
      np.repeat(candidates.reshape(6, 5), 3, axis=0), jax.random.fold_in(kl_key, 0))
  np.testing.assert_allclose(eig, np.asarray(terms.kl).reshape(2, 3, 3).mean(-1), rtol=1e-5)
  with_no_context = analysis.expected_information_gain(
      trained, frames[:2, :0], cameras[:2, :0], candidates, key, num_samples=3)
  assert with_no_context.shape == (2, 3) and np.all(np.isfinite(with_no_context))
