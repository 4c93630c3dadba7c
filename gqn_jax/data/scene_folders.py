"""The scene-folder layout: one folder per scene with a NeRF-style transforms.json, as Blender's
exporters, instant-ngp and nerfstudio's converters write it, read in place:

  ROOT/train/<scene>/transforms.json
  ROOT/test/<scene>/transforms.json

  {"camera_angle_x": 0.69,                            (or "fl_x" with the image width "w")
   "frames": [{"file_path": "./r_0",                  relative to the scene folder; '.png'
               "transform_matrix": [[...], ... 4 rows]},  added when the name has no suffix
              ...]}

Matrices are camera-to-world with OpenGL camera axes (x right, y up, looking down -z).
"""

import json
import math
import os

import numpy as np

from gqn_jax.data import camera_frames
from gqn_jax.data import posed_scenes
from gqn_jax.runtime import paths

CONVENTION = "opengl"
TRANSFORMS = "transforms.json"


def dataset_name(root, name=None):
  """The label of the dataset at `root` (its folder name): the root holds one dataset."""
  del name
  return os.path.basename(str(root).rstrip("/")) or str(root)


def field_of_view_deg(transforms, where):
  """Horizontal field of view from `camera_angle_x` (radians), else `fl_x` and `w` (pixels)."""
  angle = transforms.get("camera_angle_x")
  if angle is None and "fl_x" in transforms and "w" in transforms:
    angle = 2 * math.atan(float(transforms["w"]) / 2 / float(transforms["fl_x"]))
  if not isinstance(angle, (int, float)) or not 0 < angle < math.pi:
    raise posed_scenes.PosedDataError(
        f"{where}: needs 'camera_angle_x' (the horizontal field of view in radians, between 0 "
        f"and pi) or 'fl_x' and 'w'; got camera_angle_x={transforms.get('camera_angle_x')!r}")
  return math.degrees(angle)


def image_path(folder, file_path):
  """The image a frame's file_path names: relative to the scene folder, '.png' added when the
  name has no suffix and no such file exists (Blender's NeRF exporters leave it out)."""
  path = folder / file_path
  if not path.exists() and not path.suffix:
    path = path.with_name(path.name + ".png")
  return str(path)


def read_scene(folder, name):
  """The SceneFiles of one scene folder."""
  where = folder / TRANSFORMS
  try:
    transforms = json.loads(posed_scenes.read_text(where))
  except json.JSONDecodeError as error:
    raise posed_scenes.PosedDataError(f"{where}: not valid JSON ({error})") from None
  frames = transforms.get("frames") if isinstance(transforms, dict) else None
  if not frames:
    raise posed_scenes.PosedDataError(f"{where}: needs a non-empty 'frames' list")
  images, pose_names, matrices = [], [], []
  for index, frame in enumerate(frames):
    frame_where = f"{where} frames[{index}]"
    if not isinstance(frame, dict) or "file_path" not in frame or "transform_matrix" not in frame:
      raise posed_scenes.PosedDataError(
          f"{frame_where}: each frame needs 'file_path' and 'transform_matrix'")
    try:
      matrix = np.array(frame["transform_matrix"], np.float64)
    except (TypeError, ValueError):
      raise posed_scenes.PosedDataError(
          f"{frame_where}: transform_matrix must be 4 rows of 4 numbers") from None
    path = image_path(folder, frame["file_path"])
    if not paths.resolve(path).exists():
      raise posed_scenes.PosedDataError(
          f"{frame_where}: its image {path} is missing; every frame needs its image")
    matrices.append(camera_frames.check_matrix(matrix, frame_where))
    images.append(path)
    pose_names.append(frame_where)
  return posed_scenes.SceneFiles(
      name=name, image_paths=tuple(images), pose_names=tuple(pose_names),
      matrices_Sx4x4=np.stack(matrices), fov_x_deg=field_of_view_deg(transforms, where))


def list_scenes(root, split, name=None):
  """The SceneFiles of every scene folder of `split` ('train' or 'test'), sorted by name.
  (`name` is the run's label only: the root holds one dataset.)"""
  del name
  folders = posed_scenes.scene_folders_in(root, split, "a scene-folder root needs train/ and test/")
  for folder in folders:
    if not (folder / TRANSFORMS).exists():
      raise posed_scenes.PosedDataError(
          f"{folder}: no {TRANSFORMS}; every scene folder needs one (camera_angle_x and frames)")
  return [read_scene(folder, f"{split}/{folder.name}") for folder in folders]
