"""What the live viewer (python -m gqn_jax.view) shows, without any web page: a trained model,
one held-out scene at a time, the context views switched on, and the prediction for any camera.

`LiveView` holds the held-out scenes (each scene's first K views are its context, K =
config.data.max_context; every view is a true view to compare with), the scene shown, which
context views are on, and renders a camera's prediction in one of MODES:

  mean    the mean of num_samples prior samples (Algorithm S3), as the evaluation draws it
  sample  the first of those samples alone
  spread  the samples' per-pixel standard deviation (the model's uncertainty), SPREAD_GAIN times
          brighter, in grey

The representation r is computed once per (scene, views on) and every camera reuses it; a render
is a pure function of (scene, views on, camera, mode) with a fixed key, so it is cached and a
camera that stands still costs nothing. One compile serves every choice of views: the context is
always K slots and the mask says which are on (0 views included).
"""

import collections
import io

import jax
import numpy as np
from PIL import Image

from gqn_jax import images

MODES = ("mean", "sample", "spread")
SPREAD_GAIN = 4.0
CACHE_SIZE = 64  # renders kept (a few seconds of an orbit)
# A true view is shown beside the prediction when its camera is this close to the query's:
# position within NEAR_DISTANCE of the cameras' distance from the origin, direction within
# NEAR_DEGREES.
NEAR_DISTANCE = 0.15
NEAR_DEGREES = 15.0
DISPLAY_SIZE = 256  # the viewers draw the prediction and the true view this wide, pixels repeated


def display(image_HxWx3):
  """uint8 [S * r, S * r, 3], r = DISPLAY_SIZE // S: the image with each pixel repeated."""
  return images.upscale(images.to_uint8(image_HxWx3),
                        max(1, DISPLAY_SIZE // np.shape(image_HxWx3)[0]))


def display_png(image_HxWx3):
  """`display(image)` as PNG bytes (a download, a notebook widget)."""
  buffer = io.BytesIO()
  Image.fromarray(display(image_HxWx3)).save(buffer, format="PNG")
  return buffer.getvalue()


def view_direction(pose_5):
  yaw, pitch = float(pose_5[3]), float(pose_5[4])
  return np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])


class LiveView:
  """A trained model's predictions for one held-out scene at a time."""

  def __init__(self, trained, frames_NxSxHxWx3, cameras_NxSx5, num_samples=4, seed=0):
    self.trained = trained
    self.frames = np.asarray(frames_NxSxHxWx3, np.float32)
    self.cameras = np.asarray(cameras_NxSx5, np.float32)
    self.num_context = min(trained.config.data.max_context, self.frames.shape[1])
    self.num_samples, self.seed = num_samples, seed
    self.scene_index = 0
    self.enabled = np.ones(self.num_context, bool)
    self._representations = {}
    self._renders = collections.OrderedDict()
    scale = np.sqrt((self.cameras[..., :3] ** 2).sum(-1)).mean()
    self.near_distance = NEAR_DISTANCE * float(scale if scale > 0 else 1.0)

  @property
  def num_scenes(self):
    return len(self.frames)

  def set_scene(self, index):
    """Shows held-out scene `index` with all its context views on."""
    if not 0 <= index < self.num_scenes:
      raise IndexError(f"scene {index} is out of range: {self.num_scenes} held-out scenes are "
                       f"loaded (0..{self.num_scenes - 1})")
    self.scene_index = int(index)
    self.enabled = np.ones(self.num_context, bool)

  def set_view(self, slot, on):
    """Switches context view `slot` (0..K-1) of the scene on or off."""
    self.enabled[slot] = bool(on)

  def context(self):
    """(frames [K, H, W, 3], cameras [K, 5]) of the scene's context views, on or off."""
    return (self.frames[self.scene_index, :self.num_context],
            self.cameras[self.scene_index, :self.num_context])

  def _representation(self):
    key = (self.scene_index, tuple(self.enabled))
    if key not in self._representations:
      frames, cameras = self.context()
      self._representations[key] = self.trained.represent(frames[None], cameras[None],
                                                          self.enabled[None])
    return self._representations[key]

  def render(self, pose_5, mode="mean"):
    """float32 [H, W, 3] in [0, 1]: the prediction for camera `pose_5` (x, y, z, yaw, pitch)."""
    if mode not in MODES:
      raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
    pose = np.asarray(pose_5, np.float32).reshape(5)
    key = (self.scene_index, tuple(self.enabled), pose.tobytes(), mode)
    if key in self._renders:
      self._renders.move_to_end(key)
      return self._renders[key]
    output = self.trained.render_from_representation(
        self._representation(), pose[None, None], jax.random.key(self.seed), self.num_samples)
    samples = np.asarray(output.samples[0, 0])  # [N, H, W, 3]
    if mode == "mean":
      image = np.asarray(output.images[0, 0])
    elif mode == "sample":
      image = samples[0]
    else:
      spread = samples.std(axis=0).mean(axis=-1, keepdims=True)
      image = np.clip(np.repeat(spread, 3, axis=-1) * SPREAD_GAIN, 0.0, 1.0)
    self._renders[key] = image
    while len(self._renders) > CACHE_SIZE:
      self._renders.popitem(last=False)
    return image

  def nearest_true_view(self, pose_5):
    """(view index, frame [H, W, 3]) of the scene's view whose camera is nearest `pose_5`, or
    None when none is within NEAR_DISTANCE and NEAR_DEGREES."""
    cameras = self.cameras[self.scene_index]
    distance = np.linalg.norm(cameras[:, :3] - np.asarray(pose_5)[:3], axis=-1)
    direction = view_direction(pose_5)
    cosine = np.array([view_direction(camera) @ direction for camera in cameras])
    near = (distance <= self.near_distance) & (cosine >= np.cos(np.radians(NEAR_DEGREES)))
    if not near.any():
      return None
    index = int(np.argmin(np.where(near, distance, np.inf)))
    return index, self.frames[self.scene_index, index]
