"""Host memory kept in the process or not: the same benchmark run after run, each in a fresh
process, alternating GQN_JAX_HOST_MEMORY=keep and =default, with each process's peak RSS.

  python benchmarks/bench_host_memory.py --runs=5 --out=docs/benchmarks/host_memory.jsonl -- \
      benchmarks/bench_model.py --preset=paper --batch_size=36 --num_context=5 --steps=1 --json
  python benchmarks/bench_host_memory.py --runs=5 --out=docs/benchmarks/host_memory.jsonl -- \
      benchmarks/bench_loop.py --config=configs/rooms.py:small --steps=300

Each run appends one JSON line to --out: the mode, the command, the child's peak RSS
(os.wait4's ru_maxrss, the process's own high-water mark), its wall clock, the load average
before and after, and the benchmark's own JSON (the last JSON object it printed). The pairs are
interleaved (keep, default, keep, ...) so that a machine that drifts drifts for both. Run it on an
idle machine; nothing else beside it.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import provenance  # benchmarks/, the script's folder

MODES = ("keep", "default")


def last_json_object(text):
  """The last top-level JSON object printed in `text` (one line or indented), or None."""
  decoder = json.JSONDecoder()
  found, index = None, 0
  while True:
    start = text.find("{", index)
    if start < 0:
      return found
    try:
      value, end = decoder.raw_decode(text, start)
    except json.JSONDecodeError:
      index = start + 1
      continue
    if isinstance(value, dict):
      found = value
    index = end


def run_once(mode, command):
  """(peak RSS in GiB, wall seconds, the benchmark's JSON) of one fresh process in `mode`."""
  env = dict(os.environ, GQN_JAX_HOST_MEMORY=mode)
  start = time.perf_counter()
  child = subprocess.Popen([sys.executable, *command], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, cwd=provenance.REPO_DIR)
  out = child.stdout.read()
  _, status, usage = os.wait4(child.pid, 0)
  child.returncode = os.waitstatus_to_exitcode(status)
  if child.returncode:
    raise SystemExit(f"{' '.join(command)} exited with {child.returncode} in mode {mode}")
  return usage.ru_maxrss / 2**20, time.perf_counter() - start, last_json_object(out)


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--runs", type=int, default=5, help="runs of each mode")
  parser.add_argument("--out", required=True, help="JSON lines, appended")
  parser.add_argument("command", nargs="+", help="a benchmark script and its flags, after --")
  args = parser.parse_args(argv)
  machine = provenance.describe()
  for index in range(args.runs):
    for mode in MODES:
      load_before = os.getloadavg()
      peak_gib, seconds, result = run_once(mode, args.command)
      row = {"mode": mode, "run": index, "command": " ".join(args.command),
             "peak_rss_gib": round(peak_gib, 3), "wall_seconds": round(seconds, 1),
             "load_average_before": load_before, "load_average_after": os.getloadavg(),
             "result": result, "machine": machine}
      with open(args.out, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
      print(json.dumps({key: row[key] for key in ("mode", "run", "peak_rss_gib", "wall_seconds")}),
            flush=True)


if __name__ == "__main__":
  main(sys.argv[1:])
