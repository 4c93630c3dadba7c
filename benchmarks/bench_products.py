"""The Winograd convs' batched matmuls on their own: [P, M, C] x [P, C, O] at given shapes.

  python benchmarks/bench_products.py                    # the small and paper presets' shapes
  python benchmarks/bench_products.py --shape=64,32,215,128

P transformed positions (64 for F(4x4, 5x5)), M rows (batch x tiles), C input and O output
channels. Times the forward product and both of its gradients as the custom VJP in
gqn_jax/model/winograd.py computes them (input gradient against the kernel as stored, [P, C, O],
and against a pre-transposed [P, O, C] one), medians of --repeats jitted calls, in GFLOP/s.
"""

import argparse
import json

import jax.numpy as jnp
import numpy as np
import bench_model  # benchmarks/, the script's folder (its timing helper)
import provenance

# (P, M, C, O): the small preset's inference and generator gates at B=8 (8x8 grid: 4 tiles an
# image), the paper model's at B=8 and B=36 (16x16 grid: 16 tiles), F(4x4, 5x5).
DEFAULT_SHAPES = ((64, 32, 215, 128), (64, 32, 107, 128), (64, 128, 695, 512),
                  (64, 128, 394, 512), (64, 576, 695, 512))
PRODUCTS = {
    "forward": ("pnc,pco->pno", "x", "k"),
    "input_gradient": ("pno,pco->pnc", "g", "k"),
    "input_gradient_transposed_kernel": ("pno,poc->pnc", "g", "kt"),
    "kernel_gradient": ("pnc,pno->pco", "x", "g"),
}


def measure(shape, repeats, rng):
  p, m, c, o = shape
  arrays = {name: jnp.asarray(rng.standard_normal(dims, dtype=np.float32)) for name, dims in
            (("x", (p, m, c)), ("k", (p, c, o)), ("kt", (p, o, c)), ("g", (p, m, o)))}
  flop = 2 * p * m * c * o
  rates = {}
  for name, (equation, lhs, rhs) in PRODUCTS.items():
    seconds = bench_model.median_seconds(lambda a, b, e=equation: jnp.einsum(e, a, b),
                                         (arrays[lhs], arrays[rhs]), repeats)
    rates[name] = round(flop / seconds / 1e9, 1)
  return {"shape_PxMxCxO": list(shape), "gflops_per_s": rates}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--shape", action="append", help="P,M,C,O; repeatable")
  parser.add_argument("--repeats", type=int, default=30)
  args = parser.parse_args()
  shapes = ([tuple(int(v) for v in s.split(",")) for s in args.shape] if args.shape
            else DEFAULT_SHAPES)
  rng = np.random.default_rng(0)
  results = [measure(shape, args.repeats, rng) for shape in shapes]
  print(json.dumps({"products": results, "machine": provenance.describe()}, indent=1))


if __name__ == "__main__":
  main()
