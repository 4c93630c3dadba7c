"""PatchConv / PatchConvTranspose compute exactly Flax's strided conv and transposed conv."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gqn_jax.model import convs


def _with_random_bias(variables, features):
  params = dict(variables["params"], bias=jax.random.normal(jax.random.key(9), (features,)))
  return {"params": params}


@pytest.mark.parametrize("patch", [2, 4])
def test_patch_conv_equals_strided_conv(patch):
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 5))
  reference = nn.Conv(6, (patch, patch), strides=(patch, patch), padding="VALID")
  variables = _with_random_bias(reference.init(jax.random.key(1), x), 6)
  np.testing.assert_allclose(convs.PatchConv(6, patch).apply(variables, x),
                             reference.apply(variables, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("patch", [2, 4])
def test_patch_conv_transpose_equals_transposed_conv(patch):
  x = jax.random.normal(jax.random.key(0), (2, 4, 3, 5))
  reference = nn.ConvTranspose(6, (patch, patch), strides=(patch, patch), padding="VALID")
  variables = _with_random_bias(reference.init(jax.random.key(1), x), 6)
  got = convs.PatchConvTranspose(6, patch).apply(variables, x)
  assert got.shape == (2, 4 * patch, 3 * patch, 6)
  np.testing.assert_allclose(got, reference.apply(variables, x), rtol=1e-5, atol=1e-5)


def test_parameter_shapes_match_flax():
  x = jax.random.normal(jax.random.key(0), (1, 8, 8, 5))
  shapes = lambda module: jax.tree.map(lambda p: p.shape, module.init(jax.random.key(0), x))
  assert shapes(convs.PatchConv(6, 4)) == shapes(
      nn.Conv(6, (4, 4), strides=(4, 4), padding="VALID"))
  assert shapes(convs.PatchConvTranspose(6, 4)) == shapes(
      nn.ConvTranspose(6, (4, 4), strides=(4, 4), padding="VALID"))


def test_space_to_depth_round_trips_and_rejects_bad_sizes():
  x = np.arange(2 * 8 * 4 * 3, dtype=np.float32).reshape(2, 8, 4, 3)
  np.testing.assert_array_equal(
      convs.depth_to_space(convs.space_to_depth(x, 2), 2), x)
  with pytest.raises(ValueError, match="4x4 patches"):
    convs.space_to_depth(np.zeros((1, 6, 8, 3)), 4)


@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_same_conv_matmul_equals_flax_conv(kernel_size):
  x = jax.random.normal(jax.random.key(0), (2, 6, 5, 7))
  reference = nn.Conv(4, (kernel_size, kernel_size), padding="SAME")
  params = reference.init(jax.random.key(1), x)
  params = jax.tree.map(lambda p: p + 0.1, params)  # non-zero bias too
  expected = reference.apply(params, x)
  for impl in ("xla", "matmul"):
    got = convs.SameConv(4, kernel_size, impl).apply(params, x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_same_conv_matmul_gradient_equals_flax_conv():
  x = jax.random.normal(jax.random.key(2), (2, 5, 5, 3))
  reference = nn.Conv(2, (5, 5), padding="SAME")
  params = reference.init(jax.random.key(3), x)
  grad_of = lambda module: jax.grad(lambda p, x: jnp.sum(jnp.sin(module.apply(p, x))),
                                    argnums=(0, 1))(params, x)
  expected = grad_of(reference)
  got = grad_of(convs.SameConv(2, 5, "matmul"))
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_conv_impl_auto_picks_matmul_on_cpu_and_rejects_unknown_values():
  assert jax.default_backend() == "cpu"
  assert convs.use_matmul("auto") and convs.use_matmul("matmul")
  assert not convs.use_matmul("xla")
  with pytest.raises(ValueError, match="conv_impl='cudnn'"):
    convs.use_matmul("cudnn")
