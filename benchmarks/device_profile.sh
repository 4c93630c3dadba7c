#!/usr/bin/env bash
# A profile of the bfloat16 paper step at B=36 on an accelerator: one command (issue 23, item 4).
#
#   bash benchmarks/device_profile.sh OUT_DIR
#
# Needs only jax, flax, optax and numpy, like device_bench.sh. Writes OUT_DIR/bench.jsonl (the
# step's time and its rate against a bf16 matmul measured alongside) and OUT_DIR/trace/ (a
# jax.profiler trace of 5 timed steps: per-op device time, fusions, layouts; open it with
# TensorBoard's profile plugin or xprof). XLA's dump of the optimized HLO goes to OUT_DIR/hlo/
# so that the fusion of the LSTM and canvas elementwise work can be read off it.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${1:?usage: device_profile.sh OUT_DIR}
mkdir -p "$out_dir"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export XLA_FLAGS="${XLA_FLAGS:-} --xla_dump_to=$out_dir/hlo --xla_dump_hlo_as_text --xla_dump_hlo_module_re=.*train_step.*"
python benchmarks/bench_model.py --preset=paper --batch_size=36 --num_context=5 \
  --compute_dtype=bfloat16 --steps="${STEPS:-5}" --matmul_size=16384 --json \
  --profile_dir="$out_dir/trace" | tee "$out_dir/bench.log"
tail -n 1 "$out_dir/bench.log" > "$out_dir/bench.jsonl"
