"""Does it learn 3D scenes? Train one arm for a fixed number of steps, then score held-out scenes.

One arm of a screen (every arm of a screen the same --steps and --seed; only --set differs):

  python benchmarks/learning.py run --config=configs/shepard_metzler.py:7_parts,small \
      --steps=3000 --out=docs/learning/screens/base
  python benchmarks/learning.py run --config=configs/shepard_metzler.py:7_parts,small \
      --steps=3000 --set=train.lr_initial=5e-4 --set=train.lr_final=5e-5 \
      --out=docs/learning/screens/lr_5e-4
  python benchmarks/learning.py run ... --seed=1 --out=.../base_seed1   (the noise between runs)

and the whole screen, as one plot of held-out PSNR against steps and against minutes and a
markdown table (gains over the first arm, the baseline):

  python benchmarks/learning.py compare --out=docs/learning/screens/screen.png \
      docs/learning/screens/base docs/learning/screens/base_seed1 docs/learning/screens/lr_5e-4

At equal compute instead of equal steps: first time each arm once on the idle machine (a short
real run; nothing else running), which writes <out>/timing.json, then give it a budget in minutes
of that machine; its steps are the budget over its own idle step time, fixed before it trains, so
the arm may then train under any load and still compare fairly:

  python benchmarks/learning.py time --config=configs/rooms.py:small --set=train.batch_size=32 \
      --out=docs/learning/screens/batch32
  python benchmarks/learning.py run --config=configs/rooms.py:small --set=train.batch_size=32 \
      --budget_minutes=12 --out=docs/learning/screens/batch32

`run` trains the config's data (procedural scenes unless DeepMind's files are present) for --steps
updates (or the steps of --budget_minutes); the learning rate anneals over exactly those steps unless --set says otherwise
(train.lr_anneal_steps), so that a run of any length ends at its final rate. --seed sets
config.seed: the initialisation, the order of the training data and the training noise. The test
scenes, their query views and context views and the evaluation's prior samples do not depend on
it: every arm is scored on the same 100 held-out scenes (gqn_jax.trained.evaluate, seed 0). It
writes into --out:
  evaluation.json / .png  held-out test scenes, per number of context views M = 0..K: ELBO, PSNR of
                          the predicted mean image (--num_samples prior samples averaged), PSNR
                          over object pixels, and the mean training image and background baselines
  train/evaluation.json   the same on --num_scenes training scenes (the train/test gap)
  curve.png               test PSNR of single prior samples and -ELBO during training
  grid.png, grid.gif      context views, target, prior samples and their mean; a fly-around
  summary.json            command, settings, steps, minutes, machine, versions, git commit, the
                          headline numbers and the curve (step, minutes, test PSNR)
Resumes when the arm's --workdir (default /tmp/gqn_learning/<out name>) already holds a run.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from gqn_jax.runtime import host_memory  # pylint: disable=wrong-import-position
if __name__ == "__main__":  # as the command lines do: before numpy or JAX starts a thread
  host_memory.configure()

from absl import logging  # pylint: disable=wrong-import-position

import provenance  # pylint: disable=wrong-import-position  (benchmarks/, the script's folder)

from gqn_jax.runs import config_files  # pylint: disable=wrong-import-position
from gqn_jax.runs import configs  # pylint: disable=wrong-import-position
from gqn_jax.runtime import compile_cache  # pylint: disable=wrong-import-position
from gqn_jax.runtime import console  # pylint: disable=wrong-import-position
from gqn_jax.runtime import paths  # pylint: disable=wrong-import-position
from gqn_jax.trained import evaluate  # pylint: disable=wrong-import-position
from gqn_jax.trained import render  # pylint: disable=wrong-import-position
from gqn_jax.training import train  # pylint: disable=wrong-import-position


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  commands = parser.add_subparsers(dest="command", required=True)
  run = commands.add_parser("run", help="train and score one arm")
  run.add_argument("--config", required=True, help="configs/<file>.py[:arg]")
  run.add_argument("--steps", type=int, default=None,
                   help="training steps (default: the config's num_steps)")
  run.add_argument("--budget_minutes", type=float, default=None,
                   help="instead of --steps: this many minutes of the idle machine, turned into "
                        "steps by the arm's own step time (<out>/timing.json, from `time`)")
  run.add_argument("--timing", default=None,
                   help="the timing.json --budget_minutes reads (default: <out>/timing.json); "
                        "a seed arm reads its base arm's")
  run.add_argument("--sigma_fraction", type=float, default=None,
                   help="anneal sigma over this fraction of the arm's steps (default: the "
                        "config's sigma_anneal_steps)")
  run.add_argument("--minutes", type=float, default=0.0,
                   help="also stop after this much wall clock (0: no limit); for long runs only, "
                        "screens compare arms at equal steps")
  run.add_argument("--seed", type=int, default=None, help="config.seed (default: the config's)")
  run.add_argument("--workdir", default=None, help="default: /tmp/gqn_learning/<out name>")
  run.add_argument("--out", required=True, help="folder for the JSON and pictures")
  run.add_argument("--num_scenes", type=int, default=100, help="test (and train) scenes scored")
  run.add_argument("--num_samples", type=int, default=8,
                   help="prior samples averaged into each prediction")
  run.add_argument("--skip_training", action="store_true",
                   help="only score and draw the run already in --workdir")
  run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. train.lr_initial=5e-4 (repeatable)")
  timing = commands.add_parser("time", help="time one arm's step on the idle machine")
  timing.add_argument("--config", required=True, help="configs/<file>.py[:arg]")
  timing.add_argument("--out", required=True, help="the arm's folder: timing.json goes there")
  timing.add_argument("--steps", type=int, default=200, help="steps timed after the warm-up")
  timing.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="config override, as for run (repeatable)")
  compare = commands.add_parser("compare", help="plot and tabulate the arms of one screen")
  compare.add_argument("--out", required=True, help="the PNG to write")
  compare.add_argument("arms", nargs="+", help="--out folders of `run`; the first is the baseline")
  return parser.parse_args(argv)


TIMING_FILE = "timing.json"
_TIMING_LOG_EVERY = 25  # steps per timed interval


def arm_config(args):
  """The config of one arm: the preset, the step budget and seed, then the --set overrides."""
  config = config_files.load(args.config)
  steps = args.steps
  if args.budget_minutes is not None:
    steps = budget_steps(timing_path(args), args.budget_minutes)
  if steps is not None:
    config.train.num_steps = steps
    config.train.lr_anneal_steps = steps  # the schedule fits the planned run
  if args.sigma_fraction is not None:
    config.train.sigma_anneal_steps = max(1, round(args.sigma_fraction * config.train.num_steps))
  if args.seed is not None:
    config.seed = args.seed
  config = configs.apply_settings(config, args.set)
  config.train.time_limit_s = int(args.minutes * 60)
  return config


def timing_path(args):
  return args.timing or os.path.join(args.out, TIMING_FILE)


def read_timing(path):
  if not os.path.exists(path):
    raise SystemExit(f"{path} is missing: time the arm first, on the idle machine, with "
                     "`python benchmarks/learning.py time` and the same --config and --set")
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def budget_steps(path, budget_minutes):
  """The steps `budget_minutes` of the idle machine buy at the step time timed into `path`."""
  return max(1, int(budget_minutes * 60 / read_timing(path)["idle_step_seconds"]))


def time_arm(args):
  """Times the arm's real training loop (its data, its update; no evaluation or checkpoint in the
  timed steps): the median seconds a step over intervals of _TIMING_LOG_EVERY steps, after a
  first interval that holds the compiles. Writes <out>/timing.json."""
  import statistics  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  logging.use_absl_handler()
  logging.set_verbosity(logging.INFO)
  config = configs.apply_settings(config_files.load(args.config), args.set)
  total = _TIMING_LOG_EVERY + args.steps
  config.train.num_steps = total
  config.train.log_every = _TIMING_LOG_EVERY
  config.train.eval_every = config.train.checkpoint_every = total
  config.train.eval_at_start = False
  config.train.eval_batches = 1
  load_before = os.getloadavg()
  with tempfile.TemporaryDirectory(prefix="gqn_learning_timing-") as workdir:
    train.train_and_evaluate(config, workdir)
    rows = [row for row in read_rows(workdir) if row["split"] == "train"]
  per_step = [1.0 / row["steps_per_sec"] for row in rows
              if row["step"] > _TIMING_LOG_EVERY and row["step"] % _TIMING_LOG_EVERY == 0]
  timing = {
      "command": " ".join(["python", "benchmarks/learning.py", *sys.argv[1:]]),
      "config": args.config, "overrides": args.set, "batch_size": config.train.batch_size,
      "idle_step_seconds": statistics.median(per_step),
      "interval_step_seconds": per_step, "steps_timed": len(per_step) * _TIMING_LOG_EVERY,
      "load_average_before": load_before, "load_average_after": os.getloadavg(),
      "machine": provenance.describe(),
  }
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, TIMING_FILE), "w", encoding="utf-8") as f:
    json.dump(timing, f, indent=2)
  print(json.dumps({key: timing[key] for key in ("idle_step_seconds", "load_average_before")}))


def read_rows(workdir):
  text = (paths.resolve(workdir) / "metrics.jsonl").read_text()
  return [json.loads(line) for line in text.splitlines() if line.strip()]


def curve_rows(workdir, start_time):
  """[(step, minutes since start_time or None, test PSNR of single prior samples, -ELBO)]."""
  return [(row["step"],
           None if start_time is None or "time" not in row else
           round((row["time"] - start_time) / 60, 2), row["psnr"], row["loss"])
          for row in read_rows(workdir) if row["split"] == "test"]


def plot_curve(rows, out_path):
  """Test PSNR and -ELBO against the training step for one run."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
  left.plot([r[0] for r in rows], [r[2] for r in rows], marker="o")
  left.set_title("test PSNR of prior samples (dB)")
  right.plot([r[0] for r in rows], [r[3] for r in rows], marker="o")
  right.set_title("test -ELBO (nats per image)")
  for axis in (left, right):
    axis.set_xlabel("training step")
    axis.grid(alpha=0.3)
  figure.savefig(out_path, dpi=100)
  plt.close(figure)


def headline(results):
  """The K = max numbers against both baselines."""
  base = results["baselines"]
  return {
      "psnr_db": results["psnr_db"][-1],
      "minus_mean_image": results["psnr_db"][-1] - base["mean_image"]["psnr_db"],
      "minus_0_context": results["psnr_db"][-1] - results["psnr_db"][0],
      "object_minus_mean_image": (results["psnr_object_db"][-1]
                                  - base["mean_image"]["psnr_object_db"]),
  }


def run_arm(args, argv):
  logging.use_absl_handler()
  logging.set_verbosity(logging.INFO)  # the training log lines, as python -m gqn_jax.main shows
  config = arm_config(args)
  workdir = args.workdir or os.path.join("/tmp/gqn_learning", os.path.basename(args.out))
  os.makedirs(args.out, exist_ok=True)
  machine = provenance.describe()
  start_time = time.time()
  if not args.skip_training:
    train.train_and_evaluate(config, workdir)
  train_seconds = time.time() - start_time
  # Every arm is scored on the same held-out files and baselines, whatever it trained on; the
  # training scenes scored are the ones the arm itself trained on.
  score = dict(num_scenes=args.num_scenes, num_samples=args.num_samples, baselines=True)
  # A stream run's held-out scenes are the procedural test split's, rendered without the JPEG
  # step: it is scored on the procedural files, so that every arm reads the same pixels.
  scored_source = "procedural" if config.data.source == "stream" else None
  results = evaluate.run(workdir, out=args.out, data_source_name=scored_source, **score)
  train_results = evaluate.run(workdir, out=os.path.join(args.out, "train"), split="train",
                               **score)
  rows = curve_rows(workdir, None if args.skip_training else start_time)
  plot_curve(rows, os.path.join(args.out, "curve.png"))
  render.run(workdir, out=os.path.join(args.out, "grid.png"),
             gif=os.path.join(args.out, "grid.gif"), num_scenes=4, num_samples=4, num_frames=24)
  timing = read_timing(timing_path(args)) if args.budget_minutes is not None else None
  summary = {
      "command": " ".join(["python", "benchmarks/learning.py", *argv]),
      "config": args.config, "overrides": args.set, "seed": config.seed,
      "steps": results["step"], "num_samples": args.num_samples, "num_scenes": args.num_scenes,
      "batch_size": config.train.batch_size,
      "scenes_seen": results["step"] * config.train.batch_size,
      "sigma_anneal_steps": config.train.sigma_anneal_steps,
      "budget_minutes": args.budget_minutes,
      "idle_step_seconds": None if timing is None else timing["idle_step_seconds"],
      "train_wall_seconds": None if args.skip_training else round(train_seconds, 1),
      "machine": machine,
      "test": headline(results), "train": headline(train_results),
      "psnr_db_by_context": results["psnr_db"],
      "psnr_object_db_by_context": results["psnr_object_db"],
      "train_psnr_db_by_context": train_results["psnr_db"],
      "baselines": results["baselines"],
      "curve_step_minutes_psnr_loss": rows,
  }
  with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
    json.dump(summary, f, indent=2)
  print(json.dumps({key: summary[key] for key in ("steps", "train_wall_seconds", "test", "train")},
                   indent=2))


def load_summary(arm_dir):
  with open(os.path.join(arm_dir, "summary.json"), encoding="utf-8") as f:
    return json.load(f)


def compare_table(arms):
  """Markdown rows: each arm's K = max numbers and its gain over the first arm."""
  base = load_summary(arms[0])["test"]["psnr_db"]
  lines = ["| arm | overrides | budget (idle min) | steps | scenes | minutes | K=max dB | "
           "- mean image | - 0 views | object - mean image | train - mean image | "
           "gain over baseline |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
  for arm in arms:
    s = load_summary(arm)
    minutes = "-" if s["train_wall_seconds"] is None else f"{s['train_wall_seconds'] / 60:.1f}"
    t = s["test"]
    budget = s.get("budget_minutes") or "-"
    lines.append(
        f"| {os.path.basename(arm.rstrip('/'))} | {' '.join(s['overrides']) or '-'} "
        f"| {budget} | {s['steps']} | {s.get('scenes_seen', '-')} | {minutes} "
        f"| {t['psnr_db']:.2f} | {t['minus_mean_image']:+.2f} "
        f"| {t['minus_0_context']:+.2f} | {t['object_minus_mean_image']:+.2f} "
        f"| {s['train']['minus_mean_image']:+.2f} | {t['psnr_db'] - base:+.2f} |")
  return "\n".join(lines)


def compare(args):
  """One figure: held-out PSNR of single prior samples against steps and minutes, every arm."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  figure, (by_step, by_minute) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
  for arm in args.arms:
    rows = load_summary(arm)["curve_step_minutes_psnr_loss"]
    name = os.path.basename(arm.rstrip("/"))
    line, = by_step.plot([r[0] for r in rows], [r[2] for r in rows], marker=".", label=name)
    timed = [r for r in rows if r[1] is not None]
    by_minute.plot([r[1] for r in timed], [r[2] for r in timed], marker=".", color=line.get_color())
  by_step.set_xlabel("training step")
  by_minute.set_xlabel("minutes")
  for axis in (by_step, by_minute):
    axis.set_ylabel("test PSNR, one prior sample (dB)")
    axis.grid(alpha=0.3)
  by_step.legend(fontsize=7)
  figure.savefig(args.out, dpi=100)
  plt.close(figure)
  print(compare_table(args.arms))


def main(argv):
  args = parse_args(argv)
  console.quiet_libraries()  # the arm's own lines; GQN_JAX_LIBRARY_LOGS=1 shows Orbax's too
  compile_cache.enable(compile_cache.chosen_dir())  # as the command lines: arms share programs
  if args.command == "run":
    run_arm(args, argv)
  elif args.command == "time":
    time_arm(args)
  else:
    compare(args)


if __name__ == "__main__":
  main(sys.argv[1:])
