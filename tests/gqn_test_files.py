"""Writes tiny GQN datasets in DeepMind's exact on-disk format, for tests and benchmarks.

Scenes are built so tests can check what came through: the camera of view v of scene s is
(s, v, 0.25 * v, yaw, pitch) with exactly representable float32 numbers, and each frame is a
colour chosen by (s, v) plus a little seeded texture, so every view is recognisable after JPEG.
`expected_scene` returns what a correct reader must produce for a scene.
"""

import json

import numpy as np

from gqn_jax.data import reader
from gqn_jax.data import records


def scene_cameras(scene_id, sequence_size):
  """Raw poses [S, 5] of scene `scene_id`: float32-exact so tests can compare with ==."""
  views = np.arange(sequence_size, dtype=np.float32)
  yaw = (views % 8 - 4) * 0.5  # in [-2, 1.5], multiples of 1/2
  pitch = (views % 3 - 1) * 0.25
  scene = np.full_like(views, scene_id)
  return np.stack([scene, views, 0.25 * views, yaw, pitch], axis=-1).astype(np.float32)


def scene_pixels(scene_id, sequence_size, frame_size, texture=True):
  """uint8 [S, H, W, 3] source images (before JPEG) of scene `scene_id`."""
  rng = np.random.default_rng(scene_id)
  views = np.arange(sequence_size)
  # Colours far apart for neighbouring views, so a swapped view is caught.
  colours = np.stack([(37 * views + 11 * scene_id) % 200 + 28,
                      (91 * views + 53 * scene_id) % 200 + 28,
                      (13 * views + 7 * scene_id) % 200 + 28], axis=-1)
  pixels = np.broadcast_to(colours[:, None, None, :], (sequence_size, frame_size, frame_size, 3))
  if texture:
    noise = rng.integers(-20, 21, size=(sequence_size, frame_size, frame_size, 3))
    pixels = pixels + noise
  return np.clip(pixels, 0, 255).astype(np.uint8)


def encode_jpegs(pixels_SxHxWx3, quality=90):
  tf = reader.import_tf()
  return [tf.io.encode_jpeg(frame, quality=quality).numpy() for frame in pixels_SxHxWx3]


def expected_scene(scene_id, sequence_size, frame_size, texture=True):
  """{'frames', 'cameras'} exactly as tf.image.decode_jpeg decodes what `write_dataset` wrote."""
  tf = reader.import_tf()
  jpegs = encode_jpegs(scene_pixels(scene_id, sequence_size, frame_size, texture))
  frames = np.stack([tf.image.decode_jpeg(jpeg).numpy() for jpeg in jpegs])
  return {"frames": frames, "cameras": scene_cameras(scene_id, sequence_size)}


def scene_id(file_number, scene_in_file):
  """Scene ids are unique across files: file f (from 1) holds ids 100 f, 100 f + 1, ..."""
  return 100 * file_number + scene_in_file


def write_dataset(root, name, split="train", *, file_numbers=(1, 2), num_files=None,
                  scenes_per_file=2, frame_size=None, sequence_size=None, procedural=False,
                  texture=True):
  """Writes `<root>/<name>/<split>/<i>-of-<n>.tfrecord` for each i in file_numbers.

  Frame size and views per scene default to DeepMind's for `name`; with `procedural`, a
  gqn_jax_procedural.json describing them is written too. n defaults to DeepMind's file count
  (so most shards are "missing", like a partial download). Returns the paths, sorted.
  """
  tf = reader.import_tf()
  if procedural:
    if frame_size is None or sequence_size is None:
      raise ValueError("procedural datasets need frame_size and sequence_size")
    num_files = num_files or max(file_numbers)
    tf.io.gfile.makedirs(f"{root}/{name}")
    with tf.io.gfile.GFile(reader.spec_path(name, root), "w") as f:
      json.dump({"frame_size": frame_size, "sequence_size": sequence_size}, f)
  else:
    info = records.get_info(name)
    frame_size = frame_size or info.frame_size
    sequence_size = sequence_size or info.sequence_size
    num_files = num_files or info.num_files(split)
  directory = records.split_dir(root, name, split)
  tf.io.gfile.makedirs(directory)
  paths = []
  for file_number in file_numbers:
    path = f"{directory}/{records.shard_filename(file_number, num_files)}"
    with tf.io.TFRecordWriter(path) as writer:
      for scene_in_file in range(scenes_per_file):
        sid = scene_id(file_number, scene_in_file)
        jpegs = encode_jpegs(scene_pixels(sid, sequence_size, frame_size, texture))
        writer.write(records.serialize_scene(jpegs, scene_cameras(sid, sequence_size)))
    paths.append(path)
  return sorted(paths)


def write_records(path, serialized_records):
  """Writes arbitrary serialized records to `path` (for corrupt-data tests)."""
  tf = reader.import_tf()
  with tf.io.TFRecordWriter(path) as writer:
    for record in serialized_records:
      writer.write(record)


def read_split(name, split, root, **kwargs):
  """reader.read_scenes of one split of `name` under `root`, found with reader.find_dataset."""
  return reader.read_scenes(reader.find_dataset(name, root, splits=(split,)), split, **kwargs)
