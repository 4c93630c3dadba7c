"""Does it learn 3D scenes? Train for a fixed time, then score held-out scenes against baselines.

  python benchmarks/learning.py --config=configs/shepard_metzler.py:7_parts,small --minutes=60 \
      --out=docs/learning/shepard_metzler_7_parts
  python benchmarks/learning.py --config=configs/rooms.py:small --minutes=60 \
      --out=docs/learning/rooms_ring_camera
  (add --set=model.image_mean=sigmoid, --set=train.lr_initial=2e-3, ... to try other settings)

Trains on the config's data (procedural scenes unless DeepMind's files are present) for
--minutes of wall clock (compile included; resumes when --workdir already holds a run), then
writes into --out:
  evaluation.json / .png  held-out test scenes, per number of context views M = 0..K: ELBO, PSNR of
                          the predicted mean image, PSNR over object pixels (those that differ from
                          the background), and the context-free baselines on the same query views:
                          the mean training image and the plain background (gqn_jax.trained.evaluate)
  curve.png               test PSNR and -ELBO during training (from metrics.jsonl)
  grid.png, grid.gif      context views, target, prior samples and their mean; a fly-around
  summary.json            the command, settings, steps, wall time, machine and the headline numbers
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import logging  # pylint: disable=wrong-import-position

from gqn_jax import paths  # pylint: disable=wrong-import-position
from gqn_jax.trained import evaluate  # pylint: disable=wrong-import-position
from gqn_jax.trained import render  # pylint: disable=wrong-import-position
from gqn_jax.training import configs  # pylint: disable=wrong-import-position
from gqn_jax.training import train  # pylint: disable=wrong-import-position


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", required=True, help="configs/<file>.py[:arg]")
  parser.add_argument("--minutes", type=float, default=60.0, help="training wall-clock budget")
  parser.add_argument("--workdir", default=None, help="default: /tmp/gqn_learning/<out name>")
  parser.add_argument("--out", required=True, help="folder for the JSON and pictures")
  parser.add_argument("--num_scenes", type=int, default=100, help="held-out scenes scored")
  parser.add_argument("--num_samples", type=int, default=8,
                      help="prior samples averaged into each prediction")
  parser.add_argument("--skip_training", action="store_true",
                      help="only score and draw the run already in --workdir")
  parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="config override, e.g. model.image_mean=linear (repeatable)")
  return parser.parse_args(argv)


def apply_overrides(config, overrides):
  """`section.key=value` strings onto the config, each value parsed as the old value's type."""
  for override in overrides:
    key, _, text = override.partition("=")
    *sections, name = key.split(".")
    node = config
    for section in sections:
      node = node[section]
    old = node[name]
    node[name] = type(old)(text) if not isinstance(old, bool) else text.lower() in ("1", "true")
  return config


def learning_curve(workdir, out_path):
  """Test PSNR and -ELBO against the training step, from the run's metrics.jsonl."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  rows = [json.loads(line) for line in
          (paths.resolve(workdir) / "metrics.jsonl").read_text().splitlines()]
  test = [row for row in rows if row["split"] == "test"]
  figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
  left.plot([r["step"] for r in test], [r["psnr"] for r in test], marker="o")
  left.set_title("test PSNR of prior samples (dB)")
  right.plot([r["step"] for r in test], [r["loss"] for r in test], marker="o")
  right.set_title("test -ELBO (nats per image)")
  for axis in (left, right):
    axis.set_xlabel("training step")
    axis.grid(alpha=0.3)
  figure.savefig(out_path, dpi=100)
  plt.close(figure)
  return test


def main(argv):
  args = parse_args(argv)
  logging.use_absl_handler()
  logging.set_verbosity(logging.INFO)  # the training log lines, as python -m gqn_jax.main shows
  config = apply_overrides(configs.load(args.config), args.set)
  config.train.time_limit_s = int(args.minutes * 60)
  workdir = args.workdir or os.path.join("/tmp/gqn_learning", os.path.basename(args.out))
  os.makedirs(args.out, exist_ok=True)
  start = time.perf_counter()
  if not args.skip_training:
    train.train_and_evaluate(config, workdir)
  train_seconds = time.perf_counter() - start
  results = evaluate.run(workdir, out=args.out, num_scenes=args.num_scenes,
                         num_samples=args.num_samples, baselines=True)
  test_rows = learning_curve(workdir, os.path.join(args.out, "curve.png"))
  render.run(workdir, out=os.path.join(args.out, "grid.png"),
             gif=os.path.join(args.out, "grid.gif"), num_scenes=4, num_samples=4, num_frames=24)
  k = results["num_context"][-1]
  summary = {
      "command": " ".join([os.path.basename(sys.executable), "benchmarks/learning.py", *argv]),
      "config": args.config, "overrides": args.set, "minutes": args.minutes,
      "train_wall_seconds": None if args.skip_training else round(train_seconds, 1),
      "steps": results["step"], "num_samples": args.num_samples,
      "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
      "psnr_db_by_context": results["psnr_db"],
      "psnr_object_db_by_context": results["psnr_object_db"],
      "baselines": results["baselines"],
      f"psnr_db_K{k}_minus_mean_image": results["psnr_db"][-1]
      - results["baselines"]["mean_image"]["psnr_db"],
      f"psnr_db_K{k}_minus_0_context": results["psnr_db"][-1] - results["psnr_db"][0],
      "test_psnr_during_training": [(r["step"], r["psnr"]) for r in test_rows],
  }
  with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
    json.dump(summary, f, indent=2)
  print(json.dumps({key: summary[key] for key in summary if key != "test_psnr_during_training"},
                   indent=2))


if __name__ == "__main__":
  main(sys.argv[1:])
