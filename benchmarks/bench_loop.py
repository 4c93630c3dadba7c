"""The training loop against its step: where a run's time goes besides the update itself.

  python benchmarks/bench_loop.py --config=configs/shepard_metzler.py:7_parts,small \
      --steps=600

Runs the real loop (gqn_jax.training.train.train_and_evaluate, the preset's checkpoint, evaluation
and logging intervals) twice, each in a fresh workdir for --steps updates:

1. plain: the loop's steps/s, from metrics.jsonl's timestamps between the first logged step
   (compiles done) and the last, evaluations and checkpoints included: what a user sees;
2. timed: the same run with each part timed on the host, the update blocked on so that its time
   is its own: the update ("step"), making the next batch ("data"), checkpoint saves with their
   state check ("checkpoint"), evaluations ("evaluation") and the rest ("other": reading metrics
   back, logging, stop checks, and the compiles of the first updates). The memory check's
   ahead-of-time compile before the first step is left out. Blocking on every update removes
   the overlap of the plain run, so this run is slower; its shares say where the time goes, and
   its median update time is the step's own rate.

Prints one JSON object: both rates, the step-alone rate, their ratio and the breakdown, with the
machine's provenance. Run it on an idle machine.
"""

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from gqn_jax.runtime import host_memory  # pylint: disable=wrong-import-position
if __name__ == "__main__":  # as the command lines do: before numpy or JAX starts a thread
  host_memory.configure()

import jax  # pylint: disable=wrong-import-position
import provenance  # pylint: disable=wrong-import-position  (benchmarks/, the script's folder)

from gqn_jax.runs import config_files  # pylint: disable=wrong-import-position
from gqn_jax.runs import configs  # pylint: disable=wrong-import-position
from gqn_jax.runtime import console  # pylint: disable=wrong-import-position
from gqn_jax.training import train  # pylint: disable=wrong-import-position

PARTS = ("step", "data", "checkpoint", "evaluation")


def _config(config_path, num_steps, overrides):
  config = config_files.load(config_path)
  config.train.num_steps = num_steps
  config.train.eval_at_start = False  # the loop, not the baseline evaluation before it
  return configs.apply_settings(config, overrides)


def loop_rate(workdir, compile_seconds):
  """Steps/s between the first and the last logged training step of metrics.jsonl, less
  `compile_seconds` (the same run's compiles after its first logged step, timed in run 2: both
  runs draw the same context-slot counts at the same steps, so they compile at the same steps)."""
  with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
  train_rows = [row for row in rows if row["split"] == "train"]
  first, last = train_rows[0], train_rows[-1]
  return (last["step"] - first["step"]) / (last["time"] - first["time"] - compile_seconds)


class _Timers:
  """Wraps _TrainLoop's parts to add up their host time; the update is blocked on."""

  def __init__(self):
    self.totals = collections.Counter()
    self.times = collections.defaultdict(list)  # every call's seconds, by part

  def wrap(self, name, function, block=False):
    def timed(*args, **kwargs):
      start = time.perf_counter()
      out = function(*args, **kwargs)
      if block:
        jax.block_until_ready(out)
      elapsed = time.perf_counter() - start
      self.totals[name] += elapsed
      self.times[name].append(elapsed)
      return out
    if hasattr(function, "compiled"):  # a steps.CompiledStep: the memory check compiles ahead
      timed.compiled = function.compiled
    return timed


def timed_run(config, workdir):
  """(breakdown {part: seconds}, the whole loop's seconds, median update seconds, compile seconds,
  those inside the plain run's window, {part: (calls, median seconds per call)})."""
  timers = _Timers()
  loop_class = train._TrainLoop  # pylint: disable=protected-access
  originals = {name: getattr(loop_class, name)
               for name in ("next_batch", "save", "evaluate", "check_memory", "run", "__init__")}

  def init(self, *args, **kwargs):
    originals["__init__"](self, *args, **kwargs)
    self.update = timers.wrap("step", self.update, block=True)

  loop_class.__init__ = init
  loop_class.next_batch = timers.wrap("data", originals["next_batch"])
  loop_class.save = timers.wrap("checkpoint", originals["save"])
  loop_class.evaluate = timers.wrap("evaluation", originals["evaluate"])
  loop_class.check_memory = timers.wrap("compile", originals["check_memory"])
  loop_class.run = timers.wrap("loop", originals["run"])
  try:
    train.train_and_evaluate(config, workdir)
  finally:
    for name, function in originals.items():
      setattr(loop_class, name, function)
  # The first update of each context-slot count compiles: those calls (over 5x the median) are
  # counted as compile time, out of the step's share and its median.
  step_times = timers.times["step"]
  median = statistics.median(step_times)
  compiles = sum(t for t in step_times if t > 5 * median)
  # Those after the first logged step fall inside the plain run's timed window too.
  compiles_in_window = sum(t for i, t in enumerate(step_times)
                           if t > 5 * median and i >= config.train.log_every)
  loop_seconds = timers.totals["loop"] - timers.totals["compile"] - compiles
  breakdown = {part: timers.totals[part] for part in PARTS}
  breakdown["step"] -= compiles
  breakdown["other"] = loop_seconds - sum(breakdown.values())
  per_call = {part: (len(timers.times[part]), statistics.median(timers.times[part]))
              for part in ("checkpoint", "evaluation") if timers.times[part]}
  return breakdown, loop_seconds, median, compiles, compiles_in_window, per_call


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="configs/shepard_metzler.py:7_parts,small")
  parser.add_argument("--steps", type=int, default=600)
  parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
  args = parser.parse_args(argv)
  console.quiet_libraries()
  machine = provenance.describe()
  with tempfile.TemporaryDirectory() as plain_dir, tempfile.TemporaryDirectory() as timed_dir:
    train.train_and_evaluate(_config(args.config, args.steps, args.set), plain_dir)
    breakdown, loop_seconds, step_seconds, compile_seconds, in_window, per_call = timed_run(
        _config(args.config, args.steps, args.set), timed_dir)
    plain = loop_rate(plain_dir, in_window)
  step_rate = 1.0 / step_seconds
  print(json.dumps({
      "config": args.config, "overrides": args.set, "steps": args.steps,
      "loop_steps_per_sec": round(plain, 2), "step_alone_steps_per_sec": round(step_rate, 2),
      "loop_over_step": round(plain / step_rate, 3),
      "timed_run_seconds": round(loop_seconds, 1),
      "compile_seconds_left_out": round(compile_seconds, 1),
      "timed_run_shares": {part: round(seconds / loop_seconds, 3)
                           for part, seconds in breakdown.items()},
      # The first checkpoint and evaluation also compile their functions: hence the medians.
      "calls_and_median_seconds": {part: {"calls": calls, "median_s": round(seconds, 3)}
                                   for part, (calls, seconds) in per_call.items()},
      "machine": machine, "machine_load_at_end": os.getloadavg(),
  }, indent=2))


if __name__ == "__main__":
  main(sys.argv[1:])
