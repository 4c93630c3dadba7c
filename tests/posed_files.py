"""Writes scenes as posed image files in the SRN and scene-folder layouts, for the tests.

Shares no code with the readers (gqn_jax.data.srn, scene_folders, camera_frames): the camera
matrices are built here from the GQN pose (x, y, z, yaw, pitch) with this file's own formulas, in
a z-up world or a y-up one, with the camera axes each layout uses, optionally rolled.
"""

import json
import math
import os

import numpy as np
from PIL import Image

# z-up world -> y-up world: (x, y, z) -> (y, z, x), a rotation (a cyclic permutation of the axes)
_Z_UP_TO_Y_UP = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


def camera_to_world(pose_5, convention, up="z", roll_deg=0.0):
  """4x4 camera-to-world matrix of a GQN pose in a world with `up` ('z' or 'y') and camera axes
  `convention` ('opencv': x right, y down, z forward; 'opengl': x right, y up, z backward)."""
  x, y, z, yaw, pitch = (float(v) for v in pose_5)
  forward = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw),
                      math.sin(pitch)])
  right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
  camera_up = np.cross(right, forward)
  if roll_deg:
    angle = math.radians(roll_deg)  # turn right towards up about the viewing direction
    right, camera_up = (math.cos(angle) * right + math.sin(angle) * camera_up,
                        -math.sin(angle) * right + math.cos(angle) * camera_up)
  position = np.array([x, y, z])
  if up == "y":
    right, camera_up, forward, position = (_Z_UP_TO_Y_UP @ v for v in
                                           (right, camera_up, forward, position))
  if convention == "opencv":
    columns = (right, -camera_up, forward)
  else:
    columns = (right, camera_up, -forward)
  matrix = np.eye(4)
  matrix[:3, :3] = np.stack(columns, axis=1)
  matrix[:3, 3] = position
  return matrix


def _save(path, pixels):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(np.asarray(pixels, np.uint8)).save(path)


def write_srn(root, splits, name="things", up="z", fov_deg=45.0):
  """Writes {split: (frames uint8 [N, S, H, W, 3 or 4], poses [N, S, 5])} as
  `root/<name>_<split>/<instance>/{rgb,pose}/NNNNNN.*` and intrinsics.txt; returns the folders
  of the instances, by split."""
  folders = {}
  for split, (frames, poses) in splits.items():
    folders[split] = []
    for index, (scene_frames, scene_poses) in enumerate(zip(frames, poses)):
      folder = os.path.join(root, f"{name}_{split}", f"instance_{index:04d}")
      for view, (frame, pose) in enumerate(zip(scene_frames, scene_poses)):
        _save(os.path.join(folder, "rgb", f"{view:06d}.png"), frame)
        os.makedirs(os.path.join(folder, "pose"), exist_ok=True)
        matrix = camera_to_world(pose, "opencv", up)
        with open(os.path.join(folder, "pose", f"{view:06d}.txt"), "w") as f:
          f.write("\n".join(" ".join(f"{v:.9f}" for v in row) for row in matrix) + "\n")
      width = scene_frames.shape[2]
      focal = width / 2 / math.tan(math.radians(fov_deg) / 2)
      with open(os.path.join(folder, "intrinsics.txt"), "w") as f:
        f.write(f"{focal} {width / 2} {width / 2} 0.\n0. 0. 0.\n1.\n"
                f"{scene_frames.shape[1]} {width}\n")
      folders[split].append(folder)
  return folders


def write_scene_folders(root, splits, up="y", fov_deg=45.0, with_suffix=False):
  """Writes {split: (frames, poses)} as `root/<split>/scene_<i>/transforms.json` and its images
  (file paths without '.png' unless `with_suffix`); returns the scene folders by split."""
  folders = {}
  for split, (frames, poses) in splits.items():
    folders[split] = []
    for index, (scene_frames, scene_poses) in enumerate(zip(frames, poses)):
      folder = os.path.join(root, split, f"scene_{index:04d}")
      entries = []
      for view, (frame, pose) in enumerate(zip(scene_frames, scene_poses)):
        _save(os.path.join(folder, "images", f"view_{view:03d}.png"), frame)
        entries.append({"file_path": f"images/view_{view:03d}" + (".png" if with_suffix else ""),
                        "transform_matrix": camera_to_world(pose, "opengl", up).tolist()})
      with open(os.path.join(folder, "transforms.json"), "w") as f:
        json.dump({"camera_angle_x": math.radians(fov_deg), "frames": entries}, f)
      folders[split].append(folder)
  return folders
