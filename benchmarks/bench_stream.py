"""How fast the scene stream makes training batches, and what it costs the training step.

  python benchmarks/bench_stream.py [--config=configs/shepard_metzler.py:7_parts,small]
      [--seconds=20] [--train_steps=600]

1. Stream alone: batches of the config's size rendered and assembled by
   gqn_jax.scenes.stream.SceneStream (its background thread included), scenes per second over
   --seconds after a warm-up, against what the config's training step consumes.
2. Training with each source: the config trained for --train_steps with source='procedural'
   (cached files through tf.data) and with source='stream', no checkpoints or evaluations in
   between; the median steps/s of the logged intervals after the first (compile) interval.
Prints one JSON object with the machine, the versions and both results. Run it on an idle
machine: the two sources share the same cores.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import provenance  # pylint: disable=wrong-import-position  (benchmarks/, the script's folder)

from gqn_jax.runs import config_files  # pylint: disable=wrong-import-position
from gqn_jax.scenes import stream  # pylint: disable=wrong-import-position
from gqn_jax.training import train  # pylint: disable=wrong-import-position


def stream_scenes_per_second(config, seconds):
  data = config.data
  scenes = stream.SceneStream(data.name, batch_size=config.train.batch_size,
                              max_context=data.max_context, image_size=data.image_size,
                              seed=config.seed)
  for _ in range(3):  # compile the renderer, fill the queue
    next(scenes)
  count, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    next(scenes)
    count += 1
  elapsed = time.perf_counter() - start
  scenes.close()
  return count * config.train.batch_size / elapsed


def training_steps_per_second(config_path, source, num_steps):
  config = config_files.load(config_path)
  config.data.source = source
  config.train.num_steps = num_steps
  config.train.log_every = 50
  config.train.checkpoint_every = num_steps
  config.train.eval_every = num_steps
  config.train.eval_at_start = False
  with tempfile.TemporaryDirectory() as workdir:
    train.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
      rows = [json.loads(line) for line in f]
  rates = [row["steps_per_sec"] for row in rows if row["split"] == "train"]
  return statistics.median(rates[1:-1])  # not the compile interval, not the final save's


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="configs/shepard_metzler.py:7_parts,small")
  parser.add_argument("--seconds", type=float, default=20.0)
  parser.add_argument("--train_steps", type=int, default=600)
  args = parser.parse_args(argv)
  config = config_files.load(args.config)
  stream_rate = stream_scenes_per_second(config, args.seconds)
  procedural = training_steps_per_second(args.config, "procedural", args.train_steps)
  streamed = training_steps_per_second(args.config, "stream", args.train_steps)
  batch_size = config.train.batch_size
  print(json.dumps({
      "config": args.config, "batch_size": batch_size, "image_size": config.data.image_size,
      "machine_at_end": provenance.describe(),
      "stream_scenes_per_sec": round(stream_rate, 1),
      "training_scenes_per_sec_procedural": round(procedural * batch_size, 1),
      "stream_over_consumption": round(stream_rate / (procedural * batch_size), 2),
      "steps_per_sec_procedural": round(procedural, 2),
      "steps_per_sec_stream": round(streamed, 2),
      "stream_step_slowdown": round(1 - streamed / procedural, 3),
  }, indent=2))


if __name__ == "__main__":
  main(sys.argv[1:])
