"""The model's convolutions, written the way each backend runs fastest, with nn.Conv's parameters.

`PatchConv` and `PatchConvTranspose`: convolutions whose kernel equals their stride, written as
reshapes and one matmul. GQN has many of them: the 2x2 stride-2 stages of the tower and pyramid, the
4x4 stride-4 downsampling of the query image and canvas, and the 4x4 stride-4 transposed conv that
writes h^g onto the canvas. Non-overlapping patches make each one exactly a space-to-depth (or
depth-to-space) plus a dense layer, and where the canvas is kept in the patches' layout
(`input_as_patches`, `output_as_patches`) just the dense layer. XLA's CPU backend runs strided
convolutions, and above all the lhs-dilated convolutions their gradients and transposed
convolutions become, on a slow generic path; a matmul runs on its fast one (numbers in
docs/model.md). Parameters have the shapes of nn.Conv / nn.ConvTranspose ('kernel' [p, p, Cin,
Cout], 'bias' [Cout]) and the results are the same functions (tests/test_convs.py checks both
against Flax).

`SameConv`: the cores' 5x5 stride-1 convolutions, by XLA, as im2col + matmul, or by Winograd's
minimal filtering (winograd.py); `resolve_conv_impl` says which one 'auto' means here.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gqn_jax.model import winograd


def space_to_depth(x_BxHxWxC, patch):
  """[B, H, W, C] -> [B, H/p, W/p, p*p*C], each output position holding its p x p patch."""
  b, h, w, c = x_BxHxWxC.shape
  if h % patch or w % patch:
    raise ValueError(f"input of shape {x_BxHxWxC.shape} does not tile into {patch}x{patch} "
                     "patches; image sizes must be multiples of the stride")
  x = x_BxHxWxC.reshape(b, h // patch, patch, w // patch, patch, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h // patch, w // patch, patch * patch * c)


def depth_to_space(x_BxHxWxPPC, patch):
  """Inverse of space_to_depth: [B, H, W, p*p*C] -> [B, H*p, W*p, C]."""
  b, h, w, ppc = x_BxHxWxPPC.shape
  c = ppc // (patch * patch)
  x = x_BxHxWxPPC.reshape(b, h, w, patch, patch, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h * patch, w * patch, c)


def conv_params(module, kernel_size, in_features, features):
  """`module`'s 'kernel' [k, k, Cin, Cout] and 'bias' [Cout], initialised as nn.Conv does."""
  kernel = module.param("kernel", nn.initializers.lecun_normal(),
                        (kernel_size, kernel_size, in_features, features))
  bias = module.param("bias", nn.initializers.zeros_init(), (features,))
  return kernel, bias


def add_bias(y, bias_float32, dtype):
  """y + bias, returned in `dtype`, the sum taken in float32: a bias's gradient is the sum of
  the output's cotangent over every position, which in bfloat16 loses most of its digits."""
  return (y.astype(jnp.float32) + bias_float32).astype(dtype)


class _PatchLinear(nn.Module):
  """What PatchConv and PatchConvTranspose share: their fields and nn.Conv-style parameters."""
  features: int
  patch: int
  dtype: Any = jnp.float32  # computation (input, output); parameters stay float32

  def kernel_and_bias(self, in_features):
    """kernel [p, p, Cin, features] in the compute dtype, bias [features] in float32."""
    kernel, bias = conv_params(self, self.patch, in_features, self.features)
    return kernel.astype(self.dtype), bias


class PatchConv(_PatchLinear):
  """nn.Conv(features, (p, p), strides=(p, p), padding='VALID'), as a matmul.

  input_as_patches: x is given as space_to_depth(x, p), [B, H/p, W/p, p*p*Cin] (how the cores
  keep their canvas), and is read as it is.
  """
  input_as_patches: bool = False

  @nn.compact
  def __call__(self, x):
    p = self.patch
    patches = x if self.input_as_patches else space_to_depth(x, p)  # (row, col, channel) order
    cin = patches.shape[-1] // (p * p)
    kernel, bias = self.kernel_and_bias(cin)
    return add_bias(patches.astype(self.dtype) @ kernel.reshape(p * p * cin, self.features),
                    bias, self.dtype)


class PatchConvTranspose(_PatchLinear):
  """nn.ConvTranspose(features, (p, p), strides=(p, p), padding='VALID'), as a matmul.

  output_as_patches: return space_to_depth of that output, [B, H, W, p*p*features] (the
  matmul's own layout), instead of [B, H*p, W*p, features].
  """
  output_as_patches: bool = False

  @nn.compact
  def __call__(self, x_BxHxWxC):
    p, cin = self.patch, x_BxHxWxC.shape[-1]
    kernel, bias = self.kernel_and_bias(cin)
    # Output pixel (p*i + a, p*j + b) is x[i, j] @ kernel[p-1-a, p-1-b] (lax.conv_transpose
    # without transpose_kernel applies the kernel flipped): one matmul to all p*p offsets.
    weights = kernel[::-1, ::-1].transpose(2, 0, 1, 3).reshape(cin, p * p * self.features)
    patches = add_bias(x_BxHxWxC.astype(self.dtype) @ weights, jnp.tile(bias, p * p),
                       self.dtype)
    return patches if self.output_as_patches else depth_to_space(patches, p)


# 'winograd_MxM': F(MxM, kxk) Winograd (winograd.py). The tile size is part of the name because
# it trades arithmetic for rounding: both stay within the bounds of tests/test_winograd.py.
CONV_IMPLS = ("auto", "xla", "matmul", "winograd_2x2", "winograd_4x4")
# What 'auto' means on the CPU backend: the fastest form measured there (docs/model.md).
CPU_DEFAULT = "winograd_4x4"


def resolve_conv_impl(conv_impl):
  """The concrete way ('xla', 'matmul' or 'winograd_MxM') a stride-1 core conv runs.

  'auto' is CPU_DEFAULT on the CPU backend and 'xla' elsewhere. On CPU, XLA runs a convolution
  inside a `lax.scan` body (and its gradient) on a slow generic path: one 5x5 gate conv at B=36,
  forward + weight gradient over 2 scanned steps, did not finish in 5 minutes, where im2col +
  matmul took 3.0 s (benchmarks/bench_scan_conv.py of commit 50195c9), and Winograd F(4x4)'s
  batched matmul does a sixth of the multiplies. GPUs and TPUs run convolutions natively and keep XLA's conv (on an
  H200 it beat both matmul forms: docs/model.md).
  """
  if conv_impl not in CONV_IMPLS:
    raise ValueError(f"conv_impl={conv_impl!r}; expected one of {CONV_IMPLS}")
  if conv_impl == "auto":
    return CPU_DEFAULT if jax.default_backend() == "cpu" else "xla"
  return conv_impl


def winograd_tile(conv_impl):
  """The output tile side of a 'winograd_MxM' conv_impl, else None."""
  if conv_impl.startswith("winograd_"):
    return int(conv_impl.split("x")[-1])
  return None


def shifted_patches(x_BxHxWxC, kernel_size):
  """[B, H, W, C] -> [B, H, W, k*k*C]: each position's k x k 'SAME'-padded neighbourhood.

  Built from k*k shifted slices, so its gradient is slices and adds, never a convolution.
  Channel order (row, col, channel) matches a [k, k, C, F] kernel reshaped to [k*k*C, F].
  """
  if kernel_size % 2 == 0:
    raise ValueError(f"kernel_size={kernel_size} must be odd for 'SAME' padding")
  pad = kernel_size // 2
  _, h, w, _ = x_BxHxWxC.shape
  padded = jnp.pad(x_BxHxWxC, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  return jnp.concatenate([padded[:, i:i + h, j:j + w, :]
                          for i in range(kernel_size) for j in range(kernel_size)], axis=-1)


class SameConv(nn.Module):
  """nn.Conv(features, (k, k), padding='SAME') with the same parameters; `conv_impl` says how.

  Called on an array, or on a list of pieces that it convolves as if concatenated along
  channels (see same_conv_pieces).
  """
  features: int
  kernel_size: int
  conv_impl: str = "auto"
  dtype: Any = jnp.float32  # computation (inputs, output); parameters stay float32

  @nn.compact
  def __call__(self, x):
    pieces = tuple(x) if isinstance(x, (list, tuple)) else (x,)
    pieces = tuple(p if isinstance(p, winograd.Transformed) else p.astype(self.dtype)
                   for p in pieces)
    cin = sum(channels(p) for p in pieces)
    kernel, bias = conv_params(self, self.kernel_size, cin, self.features)
    out = same_conv_pieces(pieces, kernel.astype(self.dtype), self.conv_impl)
    return add_bias(out, bias, self.dtype)


def channels(piece):
  """Channels of a conv input piece: an array [..., C] or a winograd.Transformed."""
  return (piece.tiles if isinstance(piece, winograd.Transformed) else piece).shape[-1]


def prepare_fixed_input(x_BxHxWxC, conv_impl, kernel_size, dtype=jnp.float32):
  """An input that several convs of this size will read (the same at every core step), in the
  compute dtype: under Winograd, transformed once here (winograd.Transformed)."""
  x_BxHxWxC = x_BxHxWxC.astype(dtype)
  tile = winograd_tile(resolve_conv_impl(conv_impl))
  return x_BxHxWxC if tile is None else winograd.transform(x_BxHxWxC, tile, kernel_size)


def same_conv_pieces(pieces, kernel_kxkxCinxCout, conv_impl):
  """'SAME' stride-1 convolution (no bias), the way `conv_impl` says, of the pieces concatenated
  along channels; pieces may come from `prepare_fixed_input`, whose work is then not redone."""
  impl = resolve_conv_impl(conv_impl)
  k, _, cin, features = kernel_kxkxCinxCout.shape
  tile = winograd_tile(impl)
  if tile is not None and k > 1:
    return winograd.conv_pieces(tuple(pieces), kernel_kxkxCinxCout, tile)
  if any(isinstance(p, winograd.Transformed) for p in pieces):
    raise ValueError(f"conv_impl={conv_impl!r} ({k}x{k}) cannot read Winograd-transformed input")
  x_BxHxWxC = jnp.concatenate(pieces, axis=-1) if len(pieces) > 1 else pieces[0]
  if impl == "matmul" or k == 1:
    return shifted_patches(x_BxHxWxC, k) @ kernel_kxkxCinxCout.reshape(k * k * cin, features)
  return jax.lax.conv_general_dilated(
      x_BxHxWxC, kernel_kxkxCinxCout, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
