"""Compares ways of expressing the ConvLSTM gate convolution on this host (forward + backward).

  python benchmarks/bench_gates.py [--batch_size=36] [--in_channels=695] [--repeats=5]

At the paper's sizes the inference core's gates are a 5x5 conv of [B, 16, 16, Cin + 128] to
4 x 128 channels (Cin = 567 inputs: 48 query + 128 canvas + 7 viewpoint + 256 r + 128 h^g). Each
variant computes the same gates (checked); the script prints each one's median time and GFLOP/s.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

HIDDEN = 128
KERNEL = 5


def conv_nhwc(x, w):
  return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def fused(x, h, w):
  """One conv over [inputs, h] (what gqn_jax.model.convlstm does)."""
  return conv_nhwc(jnp.concatenate([x, h], -1), w)


def split_input_hidden(x, h, w):
  """A conv of the inputs plus a conv of h."""
  cin = x.shape[-1]
  return conv_nhwc(x, w[:, :, :cin]) + conv_nhwc(h, w[:, :, cin:])


def per_gate(x, h, w):
  """Eight convs: input and hidden conv for each of the four gates, as many ports write it."""
  cin = x.shape[-1]
  gates = [conv_nhwc(x, w[:, :, :cin, g * HIDDEN:(g + 1) * HIDDEN])
           + conv_nhwc(h, w[:, :, cin:, g * HIDDEN:(g + 1) * HIDDEN]) for g in range(4)]
  return jnp.concatenate(gates, -1)


def im2col_matmul(x, h, w):
  """Explicit patches [B*h*w, 25*C] times the kernel [25*C, 4H] as one matmul."""
  stacked = jnp.concatenate([x, h], -1)
  b, height, width, c = stacked.shape
  padded = jnp.pad(stacked, ((0, 0), (2, 2), (2, 2), (0, 0)))
  patches = jnp.concatenate([padded[:, i:i + height, j:j + width, :]
                             for i in range(KERNEL) for j in range(KERNEL)], -1)
  return (patches.reshape(b * height * width, KERNEL * KERNEL * c)
          @ w.reshape(KERNEL * KERNEL * c, -1)).reshape(b, height, width, -1)


def nchw(x, h, w):
  """The fused conv in NCHW / OIHW layout (transposes included)."""
  stacked = jnp.concatenate([x, h], -1).transpose(0, 3, 1, 2)
  out = jax.lax.conv_general_dilated(stacked, w.transpose(3, 2, 0, 1), (1, 1), "SAME",
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
  return out.transpose(0, 2, 3, 1)


VARIANTS = dict(fused=fused, split_input_hidden=split_input_hidden, per_gate=per_gate,
                im2col_matmul=im2col_matmul, nchw=nchw)


def forward_backward(variant):
  def loss(x, h, w, cotangent):
    return jnp.sum(variant(x, h, w) * cotangent)
  return jax.jit(jax.grad(loss, argnums=(0, 1, 2)))


def compare_canvas_writer(batch_size, repeats):
  """Delta: nn.ConvTranspose(4x4, stride 4) vs PatchConvTranspose, forward + backward."""
  import flax.linen as nn
  from gqn_jax.model.convs import PatchConvTranspose
  h = jax.random.normal(jax.random.key(0), (batch_size, 16, 16, HIDDEN))
  layers = dict(conv_transpose=nn.ConvTranspose(HIDDEN, (4, 4), strides=(4, 4), padding="VALID"),
                patch_conv_transpose=PatchConvTranspose(HIDDEN, 4))
  variables = layers["conv_transpose"].init(jax.random.key(1), h)
  for name, layer in layers.items():
    fn = jax.jit(jax.grad(lambda v, x: jnp.sum(jnp.square(layer.apply(v, x))), argnums=(0, 1)))
    jax.block_until_ready(fn(variables, h))
    times = []
    for _ in range(repeats):
      start = time.perf_counter()
      jax.block_until_ready(fn(variables, h))
      times.append(time.perf_counter() - start)
    print(f"{name:>20}: {statistics.median(times) * 1e3:8.1f} ms forward+backward "
          f"(B={batch_size}, 16x16x128 -> 64x64x128)")


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batch_size", type=int, default=36)
  parser.add_argument("--in_channels", type=int, default=567, help="inputs, excluding h")
  parser.add_argument("--grid", type=int, default=16)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--variants", default=",".join(VARIANTS))
  parser.add_argument("--canvas_writer", action="store_true",
                      help="compare the canvas writer Delta instead of the gate variants")
  args = parser.parse_args()
  if args.canvas_writer:
    compare_canvas_writer(args.batch_size, args.repeats)
    return
  rng = np.random.default_rng(0)
  shape = (args.batch_size, args.grid, args.grid)
  x = jnp.asarray(rng.normal(size=(*shape, args.in_channels)), jnp.float32)
  h = jnp.asarray(rng.normal(size=(*shape, HIDDEN)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(KERNEL, KERNEL, args.in_channels + HIDDEN, 4 * HIDDEN)) * 0.01,
                  jnp.float32)
  cotangent = jnp.asarray(rng.normal(size=(*shape, 4 * HIDDEN)), jnp.float32)
  # forward + two backward convs (input and weight gradients), 2 flops per multiply-add
  flops = 3 * 2 * np.prod(shape) * KERNEL * KERNEL * (args.in_channels + HIDDEN) * 4 * HIDDEN
  reference = fused(x, h, w)
  print(f"B={args.batch_size} grid={args.grid} Cin={args.in_channels}+{HIDDEN} -> {4 * HIDDEN}: "
        f"{flops / 1e9:.1f} GFLOP per forward+backward")
  for name in args.variants.split(","):
    np.testing.assert_allclose(VARIANTS[name](x, h, w), reference, rtol=2e-3, atol=2e-3)
    fn = forward_backward(VARIANTS[name])
    jax.block_until_ready(fn(x, h, w, cotangent))
    times = []
    for _ in range(args.repeats):
      start = time.perf_counter()
      jax.block_until_ready(fn(x, h, w, cotangent))
      times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"{name:>20}: {median * 1e3:8.1f} ms  {flops / median / 1e9:6.1f} GFLOP/s  "
          f"(min {min(times) * 1e3:.1f} ms)")


if __name__ == "__main__":
  main()
