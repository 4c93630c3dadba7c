#!/usr/bin/env bash
# Train on an accelerator host that has jax, flax, optax and orbax but no TensorFlow and no
# ml_collections, on the scene stream (config.data.source=stream): one command.
#
#   bash benchmarks/device_train.sh --vendor           # here, where the packages are installed:
#                                                      # copies the pure-Python ml_collections and
#                                                      # PyYAML into .device_vendor/ (git-ignored)
#   bash benchmarks/device_train.sh STEPS [CONFIG] [OUT_DIR]   # there, with .device_vendor/ carried
#
# CONFIG defaults to configs/shepard_metzler.py:7_parts,small. It trains STEPS steps into
# OUT_DIR/run (default $OUT or /tmp/device_train), with the usual report at the end, then prints
# one JSON line: steps, the median steps/s of the logged intervals after the first (compile),
# scenes/s, and the held-out PSNR for 0..K context views against the mean training image. What
# the host needs is written down in docs/training.md ("Training without TensorFlow").
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--vendor" ]]; then
  rm -rf .device_vendor && mkdir -p .device_vendor
  for package in ml_collections yaml; do
    source_dir=$(python -c "import os, $package; print(os.path.dirname($package.__file__))")
    cp -r "$source_dir" .device_vendor/
  done
  find .device_vendor -name '*.so' -delete  # PyYAML falls back to pure Python without its C part
  find .device_vendor -name '__pycache__' -type d -prune -exec rm -rf {} +
  echo "wrote .device_vendor/ ($(du -sh .device_vendor | cut -f1)); carry it to the device"
  exit 0
fi
steps=${1:?usage: device_train.sh STEPS [CONFIG] [OUT_DIR], or --vendor}
config=${2:-configs/shepard_metzler.py:7_parts,small}
out_dir=${3:-${OUT:-/tmp/device_train}}
export PYTHONPATH="$PWD:$PWD/.device_vendor${PYTHONPATH:+:$PYTHONPATH}"
python -c "import jax; print('jax', jax.__version__, jax.devices())"
python -m gqn_jax.main --config="$config" --config.data.source=stream \
  --config.train.num_steps="$steps" --workdir="$out_dir/run"
python - "$out_dir/run" <<'PY'
import json, statistics, sys
workdir = sys.argv[1]
rows = [json.loads(line) for line in open(f"{workdir}/metrics.jsonl")]
train = [row for row in rows if row["split"] == "train"]
rates = [row["steps_per_sec"] for row in train[1:-1]] or [train[-1]["steps_per_sec"]]
config = json.load(open(f"{workdir}/config.json"))
evaluation = json.load(open(f"{workdir}/evaluation.json"))
steps_per_sec = statistics.median(rates)
print(json.dumps({
    "steps": train[-1]["step"], "batch_size": config["train"]["batch_size"],
    "steps_per_sec_median": round(steps_per_sec, 2),
    "scenes_per_sec": round(steps_per_sec * config["train"]["batch_size"], 1),
    "test_psnr_db_by_context": [round(v, 2) for v in evaluation["psnr_db"]],
    "mean_image_psnr_db": round(evaluation["baselines"]["mean_image"]["psnr_db"], 2)}))
PY
