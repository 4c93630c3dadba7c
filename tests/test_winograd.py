"""Winograd F(m x m, r x r) convolutions against lax.conv: values, gradients, error bounds.

The bounds are on max |winograd - exact| / max |exact|, the exact result being lax.conv in float64:
- float64: the transforms are exact, so only rounding at 1e-16 is left: bound 1e-12.
- float32, F(2x2, 5x5) and F(2x2, 3x3): measured 3e-6 and 2e-7 (the direct float32 conv: 5e-7);
  bound 2e-5.
- float32, F(4x4, 5x5) and F(4x4, 3x3): measured 7e-6 to 9e-6; bound 1e-4. Larger tiles use more
  evaluation points (0, +-1, +-2, +-1/2, infinity) and so larger transform entries; 1e-4 is still
  40 times below bfloat16's unit rounding (3.9e-3), the precision the model is allowed to train
  in, so F(4x4) costs nothing a bfloat16 run would notice.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gqn_jax.model import winograd

F32_BOUNDS = {2: 2e-5, 4: 1e-4}
SIZES = [(2, 5), (4, 5), (2, 3), (4, 3)]  # (tile, kernel)


def _direct(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _inputs(kernel_size, shape=(2, 9, 7, 12), features=5, seed=0):
  """float64 numpy input and kernel, the kernel scaled like an initialised layer."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=shape)
  fan_in = kernel_size * kernel_size * shape[-1]
  kernel = rng.normal(size=(kernel_size, kernel_size, shape[-1], features)) / np.sqrt(fan_in)
  return x, kernel


def _relative_error(got, exact):
  got, exact = np.asarray(got, np.float64), np.asarray(exact, np.float64)
  return np.abs(got - exact).max() / np.abs(exact).max()


@pytest.mark.parametrize("tile,kernel_size", SIZES)
def test_transforms_are_exact_in_float64(tile, kernel_size):
  x, kernel = _inputs(kernel_size)
  with jax.enable_x64():
    exact = _direct(jnp.asarray(x), jnp.asarray(kernel))
    got = winograd.conv(jnp.asarray(x), jnp.asarray(kernel), tile)
    assert got.dtype == jnp.float64
    assert _relative_error(got, exact) < 1e-12


@pytest.mark.parametrize("tile,kernel_size", SIZES)
def test_float32_values_and_gradients_within_the_bounds(tile, kernel_size):
  """Sizes that are not multiples of the tile (9 x 7) exercise the padding and cropping."""
  x, kernel = _inputs(kernel_size)
  cotangent = np.random.default_rng(1).normal(size=(2, 9, 7, 5))
  with jax.enable_x64():
    loss = lambda conv: lambda x, k: jnp.sum(conv(x, k) * cotangent.astype(x.dtype))
    exact = _direct(jnp.asarray(x), jnp.asarray(kernel))
    exact_grads = jax.grad(loss(_direct), argnums=(0, 1))(jnp.asarray(x), jnp.asarray(kernel))
  x32, k32 = jnp.asarray(x, jnp.float32), jnp.asarray(kernel, jnp.float32)
  winograd_conv = lambda x, k: winograd.conv(x, k, tile)
  got = winograd_conv(x32, k32)
  assert got.dtype == jnp.float32 and got.shape == (2, 9, 7, 5)
  assert _relative_error(got, exact) < F32_BOUNDS[tile]
  grads = jax.grad(loss(winograd_conv), argnums=(0, 1))(x32, k32)
  for name, g, e in zip(("input", "kernel"), grads, exact_grads):
    assert g.dtype == jnp.float32
    assert _relative_error(g, e) < F32_BOUNDS[tile], name


def test_paper_gate_sizes_within_the_bound():
  """The inference core's gate conv at the paper's channel counts (695 -> 512, 16 x 16)."""
  x, kernel = _inputs(5, shape=(1, 16, 16, 695), features=512, seed=3)
  with jax.enable_x64():
    exact = _direct(jnp.asarray(x), jnp.asarray(kernel))
  for tile in (2, 4):
    got = winograd.conv(jnp.asarray(x, jnp.float32), jnp.asarray(kernel, jnp.float32), tile)
    assert _relative_error(got, exact) < F32_BOUNDS[tile], tile


def test_bfloat16_stays_within_bfloat16_rounding():
  x, kernel = _inputs(5, shape=(2, 16, 16, 64), features=32)
  with jax.enable_x64():
    exact = _direct(jnp.asarray(x), jnp.asarray(kernel))
  got = winograd.conv(jnp.asarray(x, jnp.bfloat16), jnp.asarray(kernel, jnp.bfloat16), 4)
  direct = _direct(jnp.asarray(x, jnp.bfloat16), jnp.asarray(kernel, jnp.bfloat16))
  assert got.dtype == jnp.bfloat16
  # The inputs' own rounding to bfloat16 dominates: no worse than twice a direct bf16 conv's.
  assert _relative_error(got, exact) < max(2 * _relative_error(direct, exact), 1e-2)


def test_transformed_pieces_equal_the_conv_of_the_concatenation_with_gradients():
  """A piece transformed once (winograd.transform) is the same input as the raw piece."""
  rng = np.random.default_rng(4)
  a, b, c = (jnp.asarray(rng.normal(size=(2, 8, 8, n)), jnp.float32) for n in (3, 4, 2))
  kernel = jnp.asarray(rng.normal(size=(5, 5, 9, 6)) / 15, jnp.float32)

  def pieces_loss(a, b, c, kernel):
    pieces = (winograd.transform(a, 4, 5), b, winograd.transform(c, 4, 5))
    return jnp.sum(jnp.sin(winograd.conv_pieces(pieces, kernel, 4)))

  def direct_loss(a, b, c, kernel):
    return jnp.sum(jnp.sin(_direct(jnp.concatenate([a, b, c], axis=-1), kernel)))

  assert abs(pieces_loss(a, b, c, kernel) - direct_loss(a, b, c, kernel)) < 1e-3
  grads = jax.grad(pieces_loss, argnums=(0, 1, 2, 3))(a, b, c, kernel)
  expected = jax.grad(direct_loss, argnums=(0, 1, 2, 3))(a, b, c, kernel)
  for g, e in zip(grads, expected):
    np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)


def test_pieces_for_another_tile_or_kernel_are_refused():
  x = jnp.ones((1, 8, 8, 2))
  with pytest.raises(ValueError, match=r"F\(2x2, 5x5\) cannot feed F\(4x4, 5x5\)"):
    winograd.conv_pieces((winograd.transform(x, 2, 5), x), jnp.ones((5, 5, 4, 1)), 4)
  with pytest.raises(ValueError, match="square odd kernel"):
    winograd.conv(x, jnp.ones((4, 4, 2, 1)), 2)


def test_backward_pass_keeps_only_the_inputs():
  """The transformed tiles (n*n/m*m = 4x the input for F(4x4, 5x5)) are recomputed, not saved:
  the residuals of the custom VJP are exactly the input and the kernel."""
  x, kernel = jnp.ones((2, 16, 16, 8)), jnp.ones((5, 5, 8, 4))
  _, residuals = winograd._transformed_products_fwd((x,), kernel, 4)
  assert [r.shape for r in jax.tree.leaves(residuals)] == [x.shape, kernel.shape]
