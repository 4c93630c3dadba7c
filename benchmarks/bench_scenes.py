"""Procedural scene throughput: scenes per second rendered, and written as TFRecords, per dataset.

  python benchmarks/bench_scenes.py [--datasets=shepard_metzler_7_parts,...] [--num_scenes=256]

Each dataset is compiled and warmed up first; the timed runs then render `num_scenes` scenes
(rendering only), and write them in full (sampling, rendering, JPEG, tf.train.Example, file).
It also times the two JPEG encoders on rendered frames. One process; XLA uses every core.
"""

import io
import tempfile
import time

from absl import app
from absl import flags
from PIL import Image

from gqn_jax import scenes
from gqn_jax.scenes import datasets
from gqn_jax.scenes import writer

_DATASETS = flags.DEFINE_list("datasets", sorted(datasets.KINDS), "Datasets to time.")
_NUM_SCENES = flags.DEFINE_integer("num_scenes", 256, "Scenes per timed run.")
_MAZE_VIEWS = flags.DEFINE_integer("maze_views", 300, "Views per maze scene.")


def _pil_jpeg(frame):
  buffer = io.BytesIO()
  Image.fromarray(frame).save(buffer, format="JPEG", quality=writer.JPEG_QUALITY,
                              subsampling=0)
  return buffer.getvalue()


def time_jpeg(frames_NxHxWx3):
  """Microseconds per frame for TensorFlow's and PIL's JPEG encoders."""
  timings = {}
  for label, encode in (("tf.io.encode_jpeg", writer.encode_jpeg), ("PIL", _pil_jpeg)):
    encode(frames_NxHxWx3[0])
    start = time.process_time()  # CPU time: less at the mercy of other processes than wall time
    for frame in frames_NxHxWx3:
      encode(frame)
    timings[label] = (time.process_time() - start) / len(frames_NxHxWx3) * 1e6
  return timings


def bench(name, num_scenes):
  views = _MAZE_VIEWS.value if name == "mazes" else None
  if name == "mazes":
    num_scenes = max(1, num_scenes // 32)  # 300 views each
  warm = datasets.get_kind(name).scenes_per_batch
  frames, _ = writer.render_scenes(name, "train", range(warm), 0, views)  # compile
  writer.encode_jpeg(frames[0, 0])  # imports TensorFlow, outside the timed runs
  start, cpu_start = time.perf_counter(), time.process_time()
  frames, _ = writer.render_scenes(name, "train", range(num_scenes), 0, views)
  render_rate = num_scenes / (time.perf_counter() - start)
  render_cpu_ms = (time.process_time() - cpu_start) / num_scenes * 1e3
  with tempfile.TemporaryDirectory() as root:
    start, cpu_start = time.perf_counter(), time.process_time()
    scenes.write_dataset(name, root, "train", num_scenes, seed=0, sequence_size=views)
    write_rate = num_scenes / (time.perf_counter() - start)
    write_cpu_ms = (time.process_time() - cpu_start) / num_scenes * 1e3
  # CPU time per scene is the figure to compare across runs on a busy machine; wall-clock rates
  # depend on what else runs.
  print(f"{name:26s} {frames.shape[1]:3d} views {frames.shape[2]}x{frames.shape[3]}: "
        f"render {render_rate:7.1f} scenes/s ({render_cpu_ms:6.1f} CPU ms/scene), "
        f"render+write {write_rate:7.1f} scenes/s ({write_cpu_ms:6.1f} CPU ms/scene)")
  return frames.reshape(-1, *frames.shape[2:])


def main(argv):
  del argv
  frames = None
  for name in _DATASETS.value:
    frames = bench(name, _NUM_SCENES.value)
    if frames.shape[1] == 64 and name.startswith("shepard"):
      for label, micros in time_jpeg(frames[:600]).items():
        print(f"  JPEG {label:18s} {micros:6.0f} CPU us per 64x64 frame")


if __name__ == "__main__":
  app.run(main)
