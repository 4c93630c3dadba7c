"""The model's convolutions, written the way each backend runs fastest, with nn.Conv's parameters.

`PatchConv` and `PatchConvTranspose`: convolutions whose kernel equals their stride, written as
reshapes and one matmul. GQN has many of them: the 2x2 stride-2 stages of the tower and pyramid, the
4x4 stride-4 downsampling of the query image and canvas, and the 4x4 stride-4 transposed conv that
writes h^g onto the canvas. Non-overlapping patches make each one exactly a space-to-depth (or
depth-to-space) plus a dense layer. XLA's CPU backend runs strided convolutions, and above all the
lhs-dilated convolutions their gradients and transposed convolutions become, on a slow generic path;
a matmul runs on its fast one (numbers in docs/model.md). Parameters have the shapes of nn.Conv /
nn.ConvTranspose ('kernel' [p, p, Cin, Cout], 'bias' [Cout]) and the results are the same functions
(tests/test_convs.py checks both against Flax).

`SameConv`: the cores' 5x5 stride-1 convolutions, by XLA or as im2col + matmul (`use_matmul`).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


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


class PatchConv(nn.Module):
  """nn.Conv(features, (p, p), strides=(p, p), padding='VALID'), as a matmul."""
  features: int
  patch: int

  @nn.compact
  def __call__(self, x_BxHxWxC):
    p, cin = self.patch, x_BxHxWxC.shape[-1]
    kernel, bias = conv_params(self, p, cin, self.features)
    patches = space_to_depth(x_BxHxWxC, p)  # [B, H/p, W/p, p*p*Cin], (row, col, channel) order
    return patches @ kernel.reshape(p * p * cin, self.features) + bias


class PatchConvTranspose(nn.Module):
  """nn.ConvTranspose(features, (p, p), strides=(p, p), padding='VALID'), as a matmul."""
  features: int
  patch: int

  @nn.compact
  def __call__(self, x_BxHxWxC):
    p, cin = self.patch, x_BxHxWxC.shape[-1]
    kernel, bias = conv_params(self, p, cin, self.features)
    # Output pixel (p*i + a, p*j + b) is x[i, j] @ kernel[p-1-a, p-1-b] (lax.conv_transpose
    # without transpose_kernel applies the kernel flipped): one matmul to all p*p offsets.
    flipped = kernel[::-1, ::-1]
    weights = flipped.transpose(2, 0, 1, 3).reshape(cin, p * p * self.features)
    return depth_to_space(x_BxHxWxC @ weights, p) + bias


CONV_IMPLS = ("auto", "xla", "matmul")


def use_matmul(conv_impl):
  """Whether a stride-1 conv inside the cores should be written as im2col + matmul.

  'auto' picks the matmul on the CPU backend only. XLA:CPU runs a convolution inside a
  `lax.scan` body (and its gradient) on a slow generic path: one 5x5 gate conv at B=36,
  forward + weight gradient over 2 scanned steps, did not finish in 5 minutes, where the same
  work as im2col + matmul took 3.0 s and unrolled convs 2.6 s (benchmarks/bench_scan_conv.py).
  Accelerators run convolutions natively and would pay the im2col copy in memory, so they keep
  XLA's conv.
  """
  if conv_impl not in CONV_IMPLS:
    raise ValueError(f"conv_impl={conv_impl!r}; expected one of {CONV_IMPLS}")
  if conv_impl == "auto":
    return jax.default_backend() == "cpu"
  return conv_impl == "matmul"


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
  """nn.Conv(features, (k, k), padding='SAME') with the same parameters, by XLA or by matmul."""
  features: int
  kernel_size: int
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x_BxHxWxC):
    k, cin = self.kernel_size, x_BxHxWxC.shape[-1]
    kernel, bias = conv_params(self, k, cin, self.features)
    if use_matmul(self.conv_impl):
      out = shifted_patches(x_BxHxWxC, k) @ kernel.reshape(k * k * cin, self.features)
    else:
      out = jax.lax.conv_general_dilated(
          x_BxHxWxC, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return out + bias
