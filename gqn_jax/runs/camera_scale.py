"""The size of a dataset's camera positions: measured once per run, so the networks see them at
about unit scale (`position_scale='auto'`), and checked when a trained model is shown poses.

Camera positions enter the networks beside pixels in [0, 1] and unit-range angle features
(gqn_jax.model.viewpoint). Each dataset has its own units: the procedural rooms put their cameras
3.4 units from the origin, Shepard-Metzler 7 about 6, other renderers 40 or more; fed raw
positions 33 units out, the tiny model's prediction from its context stays below the mean training
image, where at unit scale it beats it (docs/training.md, "Camera units").

- `resolve(config)` fills `config.data.camera_distance_rms`, the root mean square distance from
  the origin of the first NUM_SCENES training scenes' cameras (all their views, in file order, so
  every process and every restart measures the same number), when position_scale is 'auto'; a
  resumed run first takes it from its checkpoint (`adopt_saved`, which reads no data). It is
  stored with the run's config, so evaluation, rendering and export use the value training used.
- With `config.model.position_scale='auto'` the model multiplies positions by
  1 / camera_distance_rms (gqn_jax.runs.configs.model_config); a number is used as given.
- `far_cameras_message(cameras, config)` says when poses given to a trained model lie more than
  FAR_FACTOR times that distance from the origin: outside anything it was trained on.
"""

import math

from absl import logging
import numpy as np

from gqn_jax.data import reader
from gqn_jax.runs import configs
from gqn_jax.runs import data_source

NUM_SCENES = 64
FAR_FACTOR = 3.0
# 'auto' refuses cameras closer than this to the origin (root mean square): a scale above 1000
# would turn the tiny jitter of poses around the origin into the networks' largest inputs.
MIN_DISTANCE_RMS = 1e-3
SIGNIFICANT_DIGITS = 4  # stored rounded: a readable number in config.json, the same on every host


def distance_rms(cameras_Nx5):
  """Root mean square distance from the origin of the positions of raw poses [..., 5]."""
  positions = np.asarray(cameras_Nx5, np.float64)[..., :3].reshape(-1, 3)
  if not len(positions):
    raise ValueError("no camera poses to measure")
  value = float(np.sqrt(np.mean(np.sum(positions ** 2, axis=-1))))
  if not (MIN_DISTANCE_RMS <= value < math.inf):
    raise ValueError(
        f"the training cameras lie {value:.3g} units from the origin (root mean square; "
        f"position_scale='auto' needs a finite distance of at least {MIN_DISTANCE_RMS}): set "
        "--config.model.position_scale=1.0 (the raw positions) or another positive number")
  return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def training_cameras(config, num_scenes=NUM_SCENES):
  """Raw poses [N, S, 5] of the first `num_scenes` training scenes, as training finds the data
  (DeepMind's files, the procedural files, or the scene stream, whose poses need no rendering;
  posed scene files, whose scenes may differ in views, give [N * S, 5])."""
  data = config.data
  if data.source == "stream":
    from gqn_jax.scenes import stream  # pylint: disable=g-import-not-at-top
    poses = [stream.stream_scene(data.name, config.seed, 0, index)[1]
             for index in range(num_scenes)]
    return np.stack(poses).astype(np.float32)
  if data.source in data_source.POSED_SOURCES:  # scenes of any number of views: [N * S, 5]
    from gqn_jax.data import posed_scenes  # pylint: disable=g-import-not-at-top
    return np.concatenate(posed_scenes.load_for(data).poses["train"][:num_scenes])
  dataset_files = data_source.resolve(data, splits=("train",))
  poses = []
  for scene in reader.read_scenes(dataset_files, "train",
                                  skip_bad_records=data.get("skip_bad_records", False)):
    poses.append(scene["cameras"])
    if len(poses) == num_scenes:
      break
  if not poses:
    raise ValueError(f"the train split of {data.name} under {dataset_files.root} holds no scenes")
  return np.stack(poses)


def adopt_saved(config, saved_config):
  """Sets config.data.camera_distance_rms from `saved_config` (the checkpoint's config dict of
  the run being resumed) when the config leaves it unset and the run stored one; reads no data,
  so a resume can be judged before anything is read. Returns `config`."""
  saved = (saved_config or {}).get("data", {}).get("camera_distance_rms")
  if config.data.get("camera_distance_rms") is None and saved is not None:
    config.data.camera_distance_rms = float(saved)
  return config


def resolve(config):
  """Measures config.data.camera_distance_rms from the first NUM_SCENES training scenes when
  position_scale is 'auto' and the distance is not known yet (given, or adopted from the run
  being resumed); a numeric position_scale measures nothing. Returns `config`."""
  if config.data.get("camera_distance_rms") is not None or not configs.position_scale_is_auto(
      config):
    return config
  config.data.camera_distance_rms = distance_rms(training_cameras(config))
  logging.info("training cameras: %.4g units from the origin (root mean square over %d scenes); "
               "positions enter the networks times %.4g (position_scale='auto')",
               config.data.camera_distance_rms, NUM_SCENES, 1 / config.data.camera_distance_rms)
  return config


def far_cameras_message(cameras_Nx5, config, name="cameras"):
  """A warning naming the farthest of `cameras` when it lies more than FAR_FACTOR times the
  training cameras' distance from the origin; None when all are within (or that is unknown)."""
  trained = config.data.get("camera_distance_rms")
  positions = np.asarray(cameras_Nx5, np.float64)[..., :3].reshape(-1, 3)
  if trained is None or not len(positions):
    return None
  farthest = float(np.sqrt(np.max(np.sum(positions ** 2, axis=-1))))
  if farthest <= FAR_FACTOR * trained:
    return None
  return (f"{name} lie up to {farthest:.4g} units from the origin, {farthest / trained:.1f} times "
          f"the training cameras' {trained:.4g} (config.data.camera_distance_rms): the model has "
          "never seen poses this far out, and its images there mean little. Poses must be in the "
          "training data's units and frame.")
