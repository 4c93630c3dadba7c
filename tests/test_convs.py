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
  expected = reference.apply(variables, x)
  np.testing.assert_allclose(convs.PatchConv(6, patch).apply(variables, x), expected,
                             rtol=1e-5, atol=1e-5)
  # The same parameters reading the input already cut into its patches (the cores' canvas).
  as_patches = convs.PatchConv(6, patch, input_as_patches=True)
  np.testing.assert_allclose(as_patches.apply(variables, convs.space_to_depth(x, patch)),
                             expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("patch", [2, 4])
def test_patch_conv_transpose_equals_transposed_conv(patch):
  x = jax.random.normal(jax.random.key(0), (2, 4, 3, 5))
  reference = nn.ConvTranspose(6, (patch, patch), strides=(patch, patch), padding="VALID")
  variables = _with_random_bias(reference.init(jax.random.key(1), x), 6)
  got = convs.PatchConvTranspose(6, patch).apply(variables, x)
  assert got.shape == (2, 4 * patch, 3 * patch, 6)
  expected = reference.apply(variables, x)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
  # Left in the matmul's layout: the patches of that output, bias included at every pixel.
  as_patches = convs.PatchConvTranspose(6, patch, output_as_patches=True).apply(variables, x)
  assert as_patches.shape == (2, 4, 3, patch * patch * 6)
  np.testing.assert_allclose(as_patches, convs.space_to_depth(expected, patch), rtol=1e-5,
                             atol=1e-5)


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


IMPLS = ("xla", "matmul", "winograd_2x2", "winograd_4x4")


@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_same_conv_equals_flax_conv_for_every_impl(kernel_size):
  x = jax.random.normal(jax.random.key(0), (2, 6, 5, 7))
  reference = nn.Conv(4, (kernel_size, kernel_size), padding="SAME")
  params = reference.init(jax.random.key(1), x)
  params = jax.tree.map(lambda p: p + 0.1, params)  # non-zero bias too
  expected = reference.apply(params, x)
  for impl in IMPLS:
    got = convs.SameConv(4, kernel_size, impl).apply(params, x)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, err_msg=impl)


@pytest.mark.parametrize("impl", IMPLS)
def test_same_conv_gradient_equals_flax_conv(impl):
  x = jax.random.normal(jax.random.key(2), (2, 5, 5, 3))
  reference = nn.Conv(2, (5, 5), padding="SAME")
  params = reference.init(jax.random.key(3), x)
  grad_of = lambda module: jax.grad(lambda p, x: jnp.sum(jnp.sin(module.apply(p, x))),
                                    argnums=(0, 1))(params, x)
  expected = grad_of(reference)
  got = grad_of(convs.SameConv(2, 5, impl))
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
    # Winograd's bound (tests/test_winograd.py) is relative to the largest entry.
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * float(jnp.abs(b).max()))


@pytest.mark.parametrize("impl", IMPLS)
def test_prepared_pieces_give_the_conv_of_the_concatenation(impl):
  """What the cores do with v^q, r and x^q: prepared once, read by every step's gate conv."""
  rng = np.random.default_rng(5)
  fixed, moving = (jnp.asarray(rng.normal(size=(2, 8, 8, n)), jnp.float32) for n in (5, 3))
  conv = convs.SameConv(4, 5, impl)
  params = conv.init(jax.random.key(0), jnp.concatenate([fixed, moving], -1))
  prepared = convs.prepare_fixed_input(fixed, impl, 5)
  got = conv.apply(params, [prepared, moving])
  np.testing.assert_allclose(got, conv.apply(params, jnp.concatenate([fixed, moving], -1)),
                             rtol=1e-4, atol=1e-5)


def test_bfloat16_convs_compute_in_bfloat16_with_float32_parameters():
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 4))
  for module in (convs.SameConv(3, 5, "winograd_4x4", jnp.bfloat16),
                 convs.PatchConv(3, 2, jnp.bfloat16), convs.PatchConvTranspose(3, 2, jnp.bfloat16)):
    variables = module.init(jax.random.key(1), x)
    assert {p.dtype for p in jax.tree.leaves(variables)} == {jnp.dtype(jnp.float32)}
    out = module.apply(variables, x)
    assert out.dtype == jnp.bfloat16
    float32 = module.clone(dtype=jnp.float32).apply(variables, x)
    np.testing.assert_allclose(out.astype(jnp.float32), float32, rtol=3e-2, atol=3e-2)


def test_conv_impl_auto_is_the_measured_cpu_default_and_unknown_values_are_refused():
  assert jax.default_backend() == "cpu"
  assert convs.resolve_conv_impl("auto") == convs.CPU_DEFAULT == "winograd_4x4"
  assert convs.resolve_conv_impl("matmul") == "matmul"
  assert convs.winograd_tile("winograd_2x2") == 2 and convs.winograd_tile("xla") is None
  with pytest.raises(ValueError, match="conv_impl='cudnn'"):
    convs.resolve_conv_impl("cudnn")
  with pytest.raises(ValueError, match="cannot read Winograd-transformed input"):
    prepared = convs.prepare_fixed_input(jnp.ones((1, 8, 8, 2)), "winograd_4x4", 5)
    convs.same_conv_pieces([prepared], jnp.ones((5, 5, 2, 1)), "xla")
