"""One GQN gate conv (5x5, 522 -> 512 channels at 16x16, B=36), forward + weight gradient over L
steps, as lax.conv or as im2col + matmul, in an unrolled loop or inside lax.scan.

  python benchmarks/bench_scan_conv.py                  # three fast variants
  python benchmarks/bench_scan_conv.py --include_slow   # also lax.conv inside lax.scan (minutes)

Why GQNConfig.conv_impl='auto' uses the matmul on CPU: numbers in docs/model.md.
"""

import argparse
import time

import jax
from jax import lax
import jax.numpy as jnp

BATCH, SIZE, CHANNELS_IN, CHANNELS_OUT, KERNEL = 36, 16, 522, 512, 5


def conv(x, w):
  return lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))


def im2col(x, w):
  pad = KERNEL // 2
  padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  cols = jnp.concatenate([padded[:, i:i + SIZE, j:j + SIZE, :]
                          for i in range(KERNEL) for j in range(KERNEL)], -1)
  return cols @ w.reshape(KERNEL * KERNEL * CHANNELS_IN, CHANNELS_OUT)


def weight_gradient(op, x, use_scan, num_steps):
  def loss(w_L):
    if use_scan:
      _, per_step = lax.scan(lambda c, w: (c, jnp.sum(jnp.tanh(op(x, w)))), 0.0, w_L)
      return per_step.sum()
    return sum(jnp.sum(jnp.tanh(op(x, w_L[l]))) for l in range(num_steps))
  return jax.jit(jax.grad(loss))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num_steps", type=int, default=2)
  parser.add_argument("--include_slow", action="store_true")
  args = parser.parse_args()
  x = jax.random.normal(jax.random.key(0), (BATCH, SIZE, SIZE, CHANNELS_IN))
  w = 0.01 * jax.random.normal(
      jax.random.key(1), (args.num_steps, KERNEL, KERNEL, CHANNELS_IN, CHANNELS_OUT))
  variants = [("lax.conv", conv, False), ("im2col", im2col, False), ("im2col", im2col, True)]
  if args.include_slow:
    variants.append(("lax.conv", conv, True))
  for name, op, use_scan in variants:
    grad = weight_gradient(op, x, use_scan, args.num_steps)
    start = time.perf_counter()
    grad(w).block_until_ready()
    first = time.perf_counter() - start
    times = []
    for _ in range(2):
      start = time.perf_counter()
      grad(w).block_until_ready()
      times.append(time.perf_counter() - start)
    print(f"{name:9s} {'scan' if use_scan else 'unrolled':8s} first call {first:6.2f} s   "
          f"step {min(times):6.3f} s", flush=True)


if __name__ == "__main__":
  main()
