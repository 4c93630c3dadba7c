"""Representation networks: output shapes, and r as a masked, order-free sum over views."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gqn_jax.model import representation
from gqn_jax.model.config import GQNConfig
from gqn_jax.model.gqn import GQN

R = 16  # tiny r_channels keeps the 64x64 cases fast


@pytest.mark.parametrize("image_size", [64, 32])
@pytest.mark.parametrize("kind", ["tower", "pool", "pyramid"])
def test_output_shapes(kind, image_size):
  net = representation.make_representation_net(kind, R)
  frames = jnp.zeros((2, image_size, image_size, 3))
  viewpoints = jnp.zeros((2, 7))
  codes = jax.eval_shape(lambda: net.init_with_output(jax.random.key(0), frames, viewpoints))[0]
  side = image_size // 4 if kind == "tower" else 1
  assert codes.shape == (2, side, side, R)


def test_paper_tower_is_16x16x256():
  net = representation.Tower()
  codes = jax.eval_shape(lambda: net.init_with_output(
      jax.random.key(0), jnp.zeros((1, 64, 64, 3)), jnp.zeros((1, 7))))[0]
  assert codes.shape == (1, 16, 16, 256)


def _context(rng, batch_size, num_slots, image_size):
  frames = rng.random((batch_size, num_slots, image_size, image_size, 3), dtype=np.float32)
  cameras = rng.normal(size=(batch_size, num_slots, 5)).astype(np.float32)
  return frames, cameras


@pytest.fixture(scope="module", params=["tower", "pyramid"])
def model_and_params(request):
  config = GQNConfig(image_size=16, representation=request.param, num_layers=1, h_channels=4,
                     z_channels=1, canvas_channels=4, r_channels=R,
                     position_scale=1.0)
  model = GQN(config)
  rng = np.random.default_rng(0)
  frames, cameras = _context(rng, 1, 2, 16)
  params = jax.jit(lambda f, c: model.init(
      jax.random.key(0), f, c, np.ones((1, 2), bool), method=GQN.represent))(frames, cameras)
  represent = jax.jit(lambda f, c, m: model.apply(params, f, c, m, method=GQN.represent))
  # Also reachable: the pure function of the parameters, for gradient tests.
  represent.func = lambda p, f, c, m: model.apply(p, f, c, m, method=GQN.represent)
  represent.params = params
  return represent


def test_r_is_invariant_to_the_order_of_context_views(model_and_params):
  represent = model_and_params
  frames, cameras = _context(np.random.default_rng(1), 2, 4, 16)
  mask = np.array([[True, True, True, False], [True, False, True, True]])
  order = np.array([2, 0, 3, 1])
  r = represent(frames, cameras, mask)
  r_permuted = represent(frames[:, order], cameras[:, order], mask[:, order])
  np.testing.assert_allclose(r_permuted, r, rtol=1e-5, atol=1e-5)
  assert float(jnp.max(jnp.abs(r))) > 0


def test_r_ignores_masked_out_views_even_with_garbage(model_and_params):
  represent = model_and_params
  frames, cameras = _context(np.random.default_rng(2), 2, 4, 16)
  mask = np.array([[True, False, True, False], [False, False, True, False]])
  garbage_frames, garbage_cameras = frames.copy(), cameras.copy()
  garbage_frames[~mask] = np.nan
  garbage_frames[0, 3] = 1e30
  garbage_cameras[~mask] = np.inf
  r = represent(frames, cameras, mask)
  np.testing.assert_array_equal(represent(garbage_frames, garbage_cameras, mask), r)
  # Only the real views count: the same scene with the masked slots removed gives the same r.
  r_first = represent(frames[:1][:, [0, 2]], cameras[:1][:, [0, 2]], np.ones((1, 2), bool))
  np.testing.assert_allclose(r[:1], r_first, rtol=1e-5, atol=1e-5)


def test_masked_out_garbage_gives_the_same_finite_gradients(model_and_params):
  represent, params = model_and_params.func, model_and_params.params
  frames, cameras = _context(np.random.default_rng(4), 2, 3, 16)
  mask = np.array([[True, False, True], [False, True, False]])
  garbage_frames, garbage_cameras = frames.copy(), cameras.copy()
  garbage_frames[~mask] = np.nan
  garbage_cameras[~mask] = np.inf

  def grads(f, c):
    return jax.grad(lambda p: jnp.sum(jnp.sin(represent(p, f, c, mask))))(params)

  clean, dirty = grads(frames, cameras), grads(garbage_frames, garbage_cameras)
  assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(dirty))
  jax.tree.map(np.testing.assert_array_equal, dirty, clean)


def test_zero_context_gives_zero_r(model_and_params):
  represent = model_and_params
  frames, cameras = _context(np.random.default_rng(3), 2, 3, 16)
  r = represent(frames, cameras, np.zeros((2, 3), bool))
  np.testing.assert_array_equal(r, np.zeros_like(r))


def test_aggregate_sums_selected_codes():
  codes = jnp.arange(2 * 3 * 1 * 1 * 2, dtype=jnp.float32).reshape(2, 3, 1, 1, 2)
  mask = jnp.array([[True, False, True], [False, True, False]])
  expected = np.stack([codes[0, 0] + codes[0, 2], codes[1, 1]])
  np.testing.assert_array_equal(representation.aggregate(codes, mask), expected)


def test_unknown_representation_is_a_clear_error():
  with pytest.raises(ValueError, match="'towr'.*tower"):
    GQNConfig(representation="towr")
