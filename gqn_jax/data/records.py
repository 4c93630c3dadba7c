"""DeepMind's GQN on-disk format: dataset table, file naming and the tf.train.Example layout.

Facts from deepmind/gqn-datasets (data_reader.py): each dataset lives under
`<root>/<dataset>/<split>/` in files named `<i>-of-<n>.tfrecord`, i counted from 1 and both
zero-padded to the width of n. A record is one scene: `frames` holds one JPEG per view and
`cameras` holds five float32 numbers per view (x, y, z, yaw, pitch), flattened.

The reader (gqn_jax.data.reader, tfds_builders/) and the writer (gqn_jax.scenes) both use this
module, so the two cannot drift apart. TensorFlow is imported lazily: the model never needs it.
"""

import dataclasses
import re

FRAMES_KEY = "frames"
CAMERAS_KEY = "cameras"
SPLITS = ("train", "test")
_FILE_RE = re.compile(r"^(\d+)-of-(\d+)\.tfrecord$")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """What DeepMind published for one dataset."""
  name: str
  train_files: int  # number of TFRecord files in the train split
  test_files: int
  frame_size: int  # frames are frame_size x frame_size x 3
  sequence_size: int  # views per scene

  def num_files(self, split):
    check_split(split)
    return self.train_files if split == "train" else self.test_files


DATASETS = {
    info.name: info for info in (
        DatasetInfo("jaco", 3600, 400, 64, 11),
        DatasetInfo("mazes", 1080, 120, 84, 300),
        DatasetInfo("rooms_free_camera_with_object_rotations", 2034, 226, 128, 10),
        DatasetInfo("rooms_ring_camera", 2160, 240, 64, 10),
        DatasetInfo("rooms_free_camera_no_object_rotations", 2160, 240, 64, 10),
        DatasetInfo("shepard_metzler_5_parts", 900, 100, 64, 15),
        DatasetInfo("shepard_metzler_7_parts", 900, 100, 64, 15),
    )
}


def get_info(name):
  """The DatasetInfo for `name`, or a ValueError listing the known names."""
  try:
    return DATASETS[name]
  except KeyError:
    raise ValueError(
        f"unknown GQN dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}") from None


def check_split(split):
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")


def shard_filename(index, num_files):
  """File name of shard `index` (counted from 1) of `num_files`, e.g. `0001-of-2160.tfrecord`."""
  if not 1 <= index <= num_files:
    raise ValueError(f"shard index {index} is outside 1..{num_files}")
  width = len(str(num_files))
  return f"{index:0{width}d}-of-{num_files:0{width}d}.tfrecord"


def parse_shard_filename(filename):
  """(index, num_files) of a well-formed shard file name, or None if it does not match."""
  match = _FILE_RE.match(filename)
  if match is None:
    return None
  index_str, total_str = match.groups()
  index, total = int(index_str), int(total_str)
  width = len(str(total))
  if len(index_str) != width or len(total_str) != width or not 1 <= index <= total:
    return None
  return index, total


def split_dir(root, name, split):
  """`<root>/<name>/<split>` as a string (root may be a local path or a gs:// URL)."""
  check_split(split)
  return f"{str(root).rstrip('/')}/{name}/{split}"


def feature_spec(sequence_size):
  """The tf.io parsing spec for one scene of `sequence_size` views."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return {
      FRAMES_KEY: tf.io.FixedLenFeature([sequence_size], tf.string),
      CAMERAS_KEY: tf.io.FixedLenFeature([sequence_size * 5], tf.float32),
  }


def serialize_scene(jpeg_frames, cameras_Sx5):
  """One scene -> serialized tf.train.Example bytes.

  Args:
    jpeg_frames: sequence of S JPEG-encoded byte strings, one per view.
    cameras_Sx5: array-like [S, 5] of raw poses (x, y, z, yaw, pitch).
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  cameras = np.asarray(cameras_Sx5, dtype=np.float32)
  if cameras.shape != (len(jpeg_frames), 5):
    raise ValueError(
        f"cameras must have shape [{len(jpeg_frames)}, 5] to match the frames; got {cameras.shape}")
  feature = {
      FRAMES_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=list(jpeg_frames))),
      CAMERAS_KEY: tf.train.Feature(float_list=tf.train.FloatList(value=cameras.reshape(-1))),
  }
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
