"""PatchConv / PatchConvTranspose compute exactly Flax's strided conv and transposed conv."""

import flax.linen as nn
import jax
import numpy as np
import pytest

from gqn_jax import patch_conv


def _with_random_bias(variables, features):
  params = dict(variables["params"], bias=jax.random.normal(jax.random.key(9), (features,)))
  return {"params": params}


@pytest.mark.parametrize("patch", [2, 4])
def test_patch_conv_equals_strided_conv(patch):
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 5))
  reference = nn.Conv(6, (patch, patch), strides=(patch, patch), padding="VALID")
  variables = _with_random_bias(reference.init(jax.random.key(1), x), 6)
  np.testing.assert_allclose(patch_conv.PatchConv(6, patch).apply(variables, x),
                             reference.apply(variables, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("patch", [2, 4])
def test_patch_conv_transpose_equals_transposed_conv(patch):
  x = jax.random.normal(jax.random.key(0), (2, 4, 3, 5))
  reference = nn.ConvTranspose(6, (patch, patch), strides=(patch, patch), padding="VALID")
  variables = _with_random_bias(reference.init(jax.random.key(1), x), 6)
  got = patch_conv.PatchConvTranspose(6, patch).apply(variables, x)
  assert got.shape == (2, 4 * patch, 3 * patch, 6)
  np.testing.assert_allclose(got, reference.apply(variables, x), rtol=1e-5, atol=1e-5)


def test_parameter_shapes_match_flax():
  x = jax.random.normal(jax.random.key(0), (1, 8, 8, 5))
  shapes = lambda module: jax.tree.map(lambda p: p.shape, module.init(jax.random.key(0), x))
  assert shapes(patch_conv.PatchConv(6, 4)) == shapes(
      nn.Conv(6, (4, 4), strides=(4, 4), padding="VALID"))
  assert shapes(patch_conv.PatchConvTranspose(6, 4)) == shapes(
      nn.ConvTranspose(6, (4, 4), strides=(4, 4), padding="VALID"))


def test_space_to_depth_round_trips_and_rejects_bad_sizes():
  x = np.arange(2 * 8 * 4 * 3, dtype=np.float32).reshape(2, 8, 4, 3)
  np.testing.assert_array_equal(
      patch_conv.depth_to_space(patch_conv.space_to_depth(x, 2), 2), x)
  with pytest.raises(ValueError, match="4x4 patches"):
    patch_conv.space_to_depth(np.zeros((1, 6, 8, 3)), 4)
