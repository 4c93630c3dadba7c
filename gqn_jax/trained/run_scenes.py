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

TRAIN_VIEWS_PER_SCENE = 50  # of a posed training scene, for the baselines (SRN cars have 250)


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
  if data_config.source in data_source.POSED_SOURCES:
    yield from _iter_posed_scenes(data_config, split, num_scenes)
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


def views_in_evaluation_order(config):
  """Whether `iter_scenes` gives each test scene's views already in their fixed evaluation
  order (query first, then the context views: gqn_jax.data.posed_batches.evaluation_views)
  rather than all views, to be drawn by the evaluation's seed."""
  return config.data.source in data_source.POSED_SOURCES


def _iter_posed_scenes(data_config, split, num_scenes):
  """Scenes of posed image files: a test scene's evaluation views (query first), or up to
  TRAIN_VIEWS_PER_SCENE views spread over a training scene (for the baseline images)."""
  from gqn_jax.data import posed_batches  # pylint: disable=g-import-not-at-top
  from gqn_jax.data import posed_scenes  # pylint: disable=g-import-not-at-top
  dataset = posed_scenes.load_for(data_config)
  count = len(dataset.scenes[split]) if num_scenes is None else min(
      num_scenes, len(dataset.scenes[split]))
  size = data_config.image_size
  for index in range(count):
    if split == "test":
      frames, cameras = posed_batches.test_scene(dataset, index, data_config.max_context, size)
    else:
      scene = dataset.scenes[split][index]
      chosen = np.unique(np.linspace(0, scene.num_views, TRAIN_VIEWS_PER_SCENE,
                                     endpoint=False).astype(int))
      frames = posed_scenes.read_views(scene, chosen, size)
      cameras = dataset.poses[split][index][chosen]
    yield resize_frames(frames, size), np.asarray(cameras, np.float32)


def iter_test_scenes(config, num_scenes=None, data_root=None):
  """`iter_scenes` of the test split: the held-out scenes evaluation and rendering use."""
  return iter_scenes(config, "test", num_scenes, data_root)


def load_test_scenes(config, num_scenes=None, data_root=None):
  """The first `num_scenes` test scenes stacked: (frames [N, S, H, W, 3], cameras [N, S, 5]).

  Everything is held in memory; for a whole DeepMind test split use `iter_test_scenes`.
  """
  frames, cameras = zip(*iter_test_scenes(config, num_scenes, data_root))
  return np.stack(frames), np.stack(cameras)
