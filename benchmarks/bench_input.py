"""Input pipeline throughput in scenes per second, on temporary datasets in DeepMind's format.

  python benchmarks/bench_input.py              # 64x64 K=10 (shepard_metzler) and 128x128 rooms
  python benchmarks/bench_input.py --seconds 20 --batch_size 36

Scenes are textured so the JPEGs are about as large as real ones. Training needs 360 scenes/s on a
TPU v4-8 at 10 steps/s of 36 scenes; the target for this pipeline is 1000 scenes/s at 64x64.
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import gqn_test_files  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.data import pipeline  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.data import reader  # pylint: disable=g-import-not-at-top,wrong-import-position

CASES = (
    # (label, dataset, max_context, image_size)
    ("64x64 K=10", "shepard_metzler_5_parts", 10, None),
    ("128x128 K=9", "rooms_free_camera_with_object_rotations", 9, None),
)


def time_pipeline(root, dataset, *, batch_size, max_context, image_size, seconds, warmup_batches):
  """(scenes per wall second, scenes per CPU second, batches timed), after a warm-up.

  CPU seconds are this process's, all threads: on a shared machine wall-clock rates mostly measure
  the neighbours, while scenes per CPU second times the free cores bounds what the pipeline can do.
  """
  ds = pipeline.create_dataset(
      reader.find_dataset(dataset, root, splits=("train",)), split="train",
      batch_size=batch_size, max_context=max_context, image_size=image_size, seed=0)
  iterator = iter(ds)
  for _ in range(warmup_batches):
    next(iterator)
  start, cpu_start = time.perf_counter(), time.process_time()
  num_batches = 0
  while time.perf_counter() - start < seconds:
    next(iterator)["query_frame"].numpy()
    num_batches += 1
  num_scenes = num_batches * batch_size
  wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
  return num_scenes / wall, num_scenes / cpu, num_batches


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per case")
  parser.add_argument("--batch_size", type=int, default=36)
  parser.add_argument("--files", type=int, default=8, help="shard files per temporary dataset")
  parser.add_argument("--scenes_per_file", type=int, default=64)
  args = parser.parse_args()
  print(f"CPU cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; batch "
        f"{args.batch_size}; {args.files} files x {args.scenes_per_file} scenes, repeated")
  for label, dataset, max_context, image_size in CASES:
    with tempfile.TemporaryDirectory() as root:
      gqn_test_files.write_dataset(root, dataset, file_numbers=range(1, args.files + 1),
                                   scenes_per_file=args.scenes_per_file)
      rate, cpu_rate, num_batches = time_pipeline(
          root, dataset, batch_size=args.batch_size, max_context=max_context,
          image_size=image_size, seconds=args.seconds, warmup_batches=5)
    print(f"{label:>12} ({dataset}): {rate:6.0f} scenes/s, {cpu_rate:5.0f} scenes per CPU "
          f"second, over {num_batches} batches (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
  main()
