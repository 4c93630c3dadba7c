#!/usr/bin/env bash
# The paper's training step on an accelerator, in float32 and in bfloat16: one command.
#
#   bash benchmarks/device_bench.sh [out_dir]
#
# Needs only jax, flax, optax and numpy (no TensorFlow, no ml_collections, no install): the
# package is imported from this checkout. For each compute dtype it prints bench_model.py's
# report for the paper model at B=36 with 5 context views (conv_impl 'auto', which is XLA's
# native conv on GPU/TPU): compile time, steps/s, achieved TFLOP/s counted for direct
# convolutions, that rate as a fraction of a bf16 or f32 matmul measured on the spot, and the
# device's peak memory. One JSON line per run goes to out_dir/device_bench.jsonl when given.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir="${1:-}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python -c "import jax; print('jax', jax.__version__, jax.devices())"
for dtype in float32 bfloat16; do
  echo "=== paper step, B=36, 5 context views, compute_dtype=$dtype"
  python benchmarks/bench_model.py --preset=paper --batch_size=36 --num_context=5 \
    --compute_dtype="$dtype" --steps="${STEPS:-10}" --json | tee "/tmp/device_bench_$dtype.log"
  if [[ -n "$out_dir" ]]; then
    mkdir -p "$out_dir"
    tail -n 1 "/tmp/device_bench_$dtype.log" >> "$out_dir/device_bench.jsonl"
  fi
done
