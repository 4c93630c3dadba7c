"""The scenes a trained run is shown and scored on: its test split (or training scenes), read as
training read them and converted to the model's resolution.

`load_test_scenes(config, 4)` stacks the first four held-out scenes; `iter_scenes` yields any
split's scenes one at a time (a whole DeepMind test split does not fit in memory). The data is
found by gqn_jax.runs.data_source (DeepMind's files under config.data.root, else the procedural
stand-in); a stream run's held-out scenes are rendered in memory (gqn_jax.scenes.stream).
"""

import ml_collections
import numpy as np

from gqn_jax.data import reader
from gqn_jax.runs import data_source


def resize_frames(frames_NxHxWx3, image_size):
  """uint8 or float frames [..., H, W, 3] -> float32 [..., S, S, 3] in [0, 1], converted exactly
  as the input pipeline converts them (gqn_jax.data.pipeline.to_float)."""
  frames = np.asarray(frames_NxHxWx3)
  lead = frames.shape[:-3]
  flat = frames.reshape(-1, *frames.shape[-3:])
  if flat.shape[1] == image_size:  # no resize: the same conversion, without TensorFlow
    converted = flat.astype(np.float32) / 255.0 if flat.dtype == np.uint8 else flat
    return np.asarray(converted, np.float32).reshape(*lead, image_size, image_size, 3)
  # Only a resize needs TensorFlow (tf.image, as training resized): imported here, not above, so
  # that a stream run (no TensorFlow on its machine) is evaluated and rendered without it.
  from gqn_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  converted = np.asarray(pipeline.to_float(image_size, flat))
  return converted.reshape(*lead, image_size, image_size, 3)


def iter_scenes(config, split, num_scenes=None, data_root=None):
  """Yields the first `num_scenes` (all by default) scenes of `split`, resized for the model.

  The data is found as training found it (gqn_jax.runs.data_source: DeepMind's files under
  config.data.root, else the procedural stand-in); `data_root` overrides config.data.root.
  Each scene is (frames [S, H, W, 3] float32 in [0, 1], cameras [S, 5] float32 raw poses).
  """
  data_config = ml_collections.ConfigDict(config.data.to_dict())
  if data_root is not None:
    data_config.root = data_root
  if data_config.source == "stream":
    yield from _iter_rendered_scenes(config, split, num_scenes)
    return
  dataset_files = data_source.resolve(data_config, splits=(split,))
  count = 0
  for scene in reader.read_scenes(dataset_files, split,
                                  skip_bad_records=data_config.get("skip_bad_records", False)):
    if num_scenes is not None and count >= num_scenes:
      return
    count += 1
    yield (resize_frames(scene["frames"], data_config.image_size),
           np.asarray(scene["cameras"], np.float32))
  if count == 0:
    raise ValueError(
        f"the {split} split of {data_config.name} under {dataset_files.root} holds no scenes")


def _iter_rendered_scenes(config, split, num_scenes):
  """A stream run's scenes (gqn_jax.scenes.stream): its held-out test scenes, or its first
  training scenes (`num_scenes` of them, default procedural_num_test), without TensorFlow."""
  from gqn_jax.scenes import stream  # pylint: disable=g-import-not-at-top
  data = config.data
  count = data.procedural_num_test if num_scenes is None else num_scenes
  if split == "test":
    count = min(count, data.procedural_num_test)
    frames, cameras = stream.test_scenes(data.name, data.procedural_num_test, data.image_size)
  else:
    frames, cameras = stream.training_scenes(data.name, config.seed, count, data.image_size)
  for frames_SxHxWx3, cameras_Sx5 in zip(frames[:count], cameras[:count]):
    yield resize_frames(frames_SxHxWx3, data.image_size), np.asarray(cameras_Sx5, np.float32)


def iter_test_scenes(config, num_scenes=None, data_root=None):
  """`iter_scenes` of the test split: the held-out scenes evaluation and rendering use."""
  return iter_scenes(config, "test", num_scenes, data_root)


def load_test_scenes(config, num_scenes=None, data_root=None):
  """The first `num_scenes` test scenes stacked: (frames [N, S, H, W, 3], cameras [N, S, 5]).

  Everything is held in memory; for a whole DeepMind test split use `iter_test_scenes`.
  """
  frames, cameras = zip(*iter_test_scenes(config, num_scenes, data_root))
  return np.stack(frames), np.stack(cameras)
