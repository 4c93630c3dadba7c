"""Latency of the live viewer: from a camera change to its new image, on this machine.

  python benchmarks/bench_viewer.py [--out=FILE.jsonl]

Two cases, each warm (compiled, one render made first), each over --frames cameras that each differ
from the last (an orbit, so nothing is served from the cache):
  small   pretrained/rooms_ring_camera_small: 32x32, 5 context views
  paper   the paper's model (configs/rooms.py) at 64x64 with 5 context views, freshly initialised
          (its weights do not change its speed)
For each: the server side of the page (gqn_jax.trained.viewer.Viewer on a free port: a camera
handed to it as the page hands it, until its image is sent) and the render alone
(gqn_jax.trained.live_view.LiveView.render). The targets: <= 100 ms small, <= 1 s paper.
One JSON line per case to stdout (and --out), with the machine (benchmarks/provenance.py).
"""

import argparse
import json
import os
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

import provenance  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.model import gqn  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.runs import config_files  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.runs import configs  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.scenes import stream  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.trained import live_view  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.trained import restore  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.trained import run_scenes  # pylint: disable=g-import-not-at-top,wrong-import-position
from gqn_jax.trained import viewer  # pylint: disable=g-import-not-at-top,wrong-import-position

PRETRAINED_SMALL = os.path.join(_HERE, "..", "pretrained", "rooms_ring_camera_small")


def small_case():
  trained = restore.load(PRETRAINED_SMALL)
  frames, cameras = run_scenes.load_test_scenes(trained.config, 2)
  return trained, frames, cameras


def paper_case():
  config = config_files.load("configs/rooms.py")
  config.model.position_scale = 1.0
  model = configs.build_model(config)
  batch = gqn.dummy_batch(config.data.image_size, config.data.max_context)
  params = model.init({"params": jax.random.key(0), "sample": jax.random.key(1)}, batch,
                      2.0)["params"]
  trained = restore.TrainedGQN(config, params)
  frames, cameras = stream.test_scenes(config.data.name, 2, config.data.image_size)
  return trained, frames.astype(np.float32) / 255, cameras


def orbit(start_5, frames):
  """Cameras turning about the z axis from `start_5`, 4 degrees apart."""
  poses = []
  for index in range(frames):
    angle = np.radians(4.0 * (index + 1))
    x, y = start_5[0], start_5[1]
    poses.append([x * np.cos(angle) - y * np.sin(angle), x * np.sin(angle) + y * np.cos(angle),
                  start_5[2], start_5[3] + angle, start_5[4]])
  return np.asarray(poses, np.float32)


def time_page(live, poses):
  page = viewer.Viewer(live, port=0, out_dir="/tmp")
  try:
    for pose in poses:
      count = len(page.latency_s)
      page.request(pose)
      while len(page.latency_s) == count:
        time.sleep(0.001)
    return page.latency_s[1:]  # the first was the start pose, drawn before the page opened
  finally:
    page.close()


def measure(name, case, frames, num_samples):
  trained, scene_frames, cameras = case()
  live = live_view.LiveView(trained, scene_frames, cameras, num_samples=num_samples)
  start = cameras[0, -1]
  live.render(start)  # compile
  render_s = []
  for pose in orbit(start, frames):
    began = time.perf_counter()
    live.render(pose)
    render_s.append(time.perf_counter() - began)
  page_s = time_page(live, orbit(start * np.array([1, 1, 1.01, 1, 1], np.float32), frames))
  return {
      "case": name, "image_size": trained.image_size, "context_views": live.num_context,
      "num_samples": num_samples, "frames": frames,
      "page_ms_median": round(1000 * float(np.median(page_s)), 1),
      "page_ms_p90": round(1000 * float(np.percentile(page_s, 90)), 1),
      "render_ms_median": round(1000 * float(np.median(render_s)), 1),
      "provenance": provenance.describe(),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--frames", type=int, default=30)
  parser.add_argument("--num_samples", type=int, default=4, help="prior samples per frame")
  parser.add_argument("--out", help="append the JSON lines here too")
  args = parser.parse_args()
  for name, case in (("small", small_case), ("paper", paper_case)):
    line = json.dumps(measure(name, case, args.frames, args.num_samples))
    print(line, flush=True)
    if args.out:
      with open(args.out, "a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
  main()
