"""Posed scene files decoded without TensorFlow: images per second against what the step eats.

  python benchmarks/bench_posed_input.py                        # a temporary 128 px SRN folder
  python benchmarks/bench_posed_input.py --root=DIR --layout=scene_folders --config_arg=small

Times the training batches of gqn_jax.data.posed_batches (each batch decodes K + 1 PNGs per
scene, Pillow in a thread pool, the area resize to the preset's size) in this process, then the
preset's training step on one of those batches, and prints the images each needs per second:
the input keeps the step fed when `decode_images_per_s` is above `step_images_per_s`. Without
--root it writes 24 scenes of 50 textured 128 px views (RGBA, as SRN's and Blender's renders
come) with tests/posed_files.py. One JSON line per run goes to stdout (and to --out).
"""

import argparse
import json
import os
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(_HERE, "..", "tests"), _HERE]

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from PIL import Image  # pylint: disable=g-import-not-at-top,wrong-import-position

import posed_files  # pylint: disable=g-import-not-at-top,wrong-import-position
import provenance  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.data import posed_batches  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.data import posed_scenes  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.runs import camera_scale  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.runs import config_files  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.runs import configs  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.training import distributed  # pylint: disable=wrong-import-position
from gqn_jax.training import train  # pylint: disable=g-import-not-at-top,wrong-import-position


def write_textured_srn(root, num_scenes=24, num_views=50, size=128):
  """SRN-layout scenes of noisy RGBA views (PNGs about as large as real renders)."""
  rng = np.random.default_rng(0)
  splits = {}
  for split, count in (("train", num_scenes), ("test", 4)):
    frames = rng.integers(0, 256, (count, num_views, size, size, 4), dtype=np.uint8)
    frames[..., :3] = (frames[..., :3] // 32) * 32  # a little structure, as renders have
    angle = rng.uniform(-np.pi, np.pi, (count, num_views))
    poses = np.stack([4 * np.cos(angle), 4 * np.sin(angle), np.ones_like(angle),
                      angle + np.pi, np.full_like(angle, -0.2)], axis=-1)
    splits[split] = (frames, poses)
  posed_files.write_srn(root, splits, name="bench")


def time_batches(batches, seconds, warmup=2):
  """(images per wall second, per CPU second, batches timed) of `batches.make_batch`."""
  for index in range(warmup):
    batches.make_batch(index)
  count, index = 0, warmup
  wall, cpu = time.perf_counter(), time.process_time()
  while time.perf_counter() - wall < seconds:
    batches.make_batch(index)
    index += 1
    count += 1
  wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
  images = count * batches.batch_size * (batches.max_context + 1)
  return images / wall, images / cpu, count


def time_step(config, batch, steps=30):
  """Seconds per training step of `config` on `batch` (compiled first, median of `steps`)."""
  camera_scale.resolve(config)
  model = configs.build_model(config)
  optimizer = train.build_optimizer(config.train)
  parallelism = distributed.make_parallelism()
  params, opt_state = train.init_train_state(config, model, optimizer, parallelism)
  step_fn = train.steps_for_config(config, model, optimizer, parallelism).train
  times = []
  for step in range(steps + 2):
    start = time.perf_counter()
    params, opt_state, metrics = step_fn(params, opt_state, batch, jnp.int32(step),
                                         train.train_key(0))
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - start)
  return float(np.median(times[2:]))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--root", help="a dataset folder (default: a temporary SRN folder)")
  parser.add_argument("--layout", default="srn", choices=posed_scenes.LAYOUTS)
  parser.add_argument("--config_arg", default="small", help="the size preset")
  parser.add_argument("--seconds", type=float, default=20.0)
  parser.add_argument("--steps", type=int, default=30, help="training steps timed (median)")
  parser.add_argument("--out", help="append the JSON line here too")
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as scratch:
    root = args.root
    if root is None:
      root = os.path.join(scratch, "srn")
      write_textured_srn(root)
    config = config_files.load(f"configs/{args.layout}.py:{args.config_arg}")
    config.data.root = root
    dataset = posed_scenes.load_for(config.data)
    batches = posed_batches.TrainBatches(
        dataset, batch_size=config.train.batch_size, max_context=config.data.max_context,
        image_size=config.data.image_size, seed=0)
    per_wall, per_cpu, count = time_batches(batches, args.seconds)
    batch = batches.make_batch(0)
    batch["context_mask"][:] = True  # the step with every context slot: its slowest shape
    seconds_per_step = time_step(config, batch, args.steps)
    with Image.open(dataset.scenes["train"][0].image_paths[0]) as first:
      stored = first.size
  need = config.train.batch_size * (config.data.max_context + 1) / seconds_per_step
  result = {
      "layout": args.layout, "preset": args.config_arg, "image_size": config.data.image_size,
      "stored_size": stored[0], "batch_size": config.train.batch_size,
      "max_context": config.data.max_context, "batches_timed": count,
      "decode_images_per_s": round(per_wall, 1), "decode_images_per_cpu_s": round(per_cpu, 1),
      "step_s": round(seconds_per_step, 4), "step_images_per_s": round(need, 1),
      "ratio": round(per_wall / need, 2), "provenance": provenance.describe(),
  }
  line = json.dumps(result)
  print(line)
  if args.out:
    with open(args.out, "a") as f:
      f.write(line + "\n")


if __name__ == "__main__":
  main()
