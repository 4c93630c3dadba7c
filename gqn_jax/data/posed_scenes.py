"""Posed multi-view scenes held as image files (SRN ShapeNet, NeRF-style scene folders): the
scene record both layouts' readers produce, its checks, and decoding views for the model.

A layout's reader (gqn_jax.data.srn, gqn_jax.data.scene_folders) lists one split's scenes as
`SceneFiles`: the view images, each view's camera-to-world matrix (checked rigid by
gqn_jax.data.camera_frames) and the field of view. `load(source, root, name, max_context)` reads
both splits once, checks everything a run needs before its first step, and returns a
`PosedDataset` whose poses are GQN viewpoints (camera_frames; the up axis read from the training
scenes). Every problem is one `PosedDataError` line naming the file and what to do; nothing
half-read trains.

Views are decoded without TensorFlow (Pillow): RGBA composited on white, a non-square image
cropped to its centre square, then resized with an area filter (Pillow's BOX) to the run's
image_size, as uint8.
"""

import concurrent.futures
import dataclasses
import functools
import math
import os

import numpy as np
from PIL import Image

from gqn_jax.data import camera_frames
from gqn_jax.runtime import errors
from gqn_jax.runtime import paths

LAYOUTS = ("srn", "scene_folders")
SPLITS = ("train", "test")
UP_AXIS_SCENES = 64  # training scenes whose cameras say which way is up (the first, sorted)
FOV_TOLERANCE_DEG = 0.05  # fields of view closer than this are one camera model
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_READ_THREADS = max(4, os.cpu_count() or 1)


class PosedDataError(errors.ProjectError, ValueError):
  """Scene files that cannot be read as posed views; the message names the file."""


@dataclasses.dataclass(frozen=True)
class SceneFiles:
  """One scene as a layout's reader found it."""
  name: str  # the scene's folder, relative to the root (what the user sees in errors)
  image_paths: tuple  # one path per view
  pose_names: tuple  # where each view's pose came from (a file, or file + frame), for errors
  matrices_Sx4x4: np.ndarray  # camera-to-world, in the layout's convention, checked rigid
  fov_x_deg: float  # horizontal field of view of the stored images

  @property
  def num_views(self):
    return len(self.image_paths)


@dataclasses.dataclass
class PosedDataset:
  """Both splits of one dataset of posed views, checked, with GQN viewpoints."""
  layout: str
  root: str
  name: str  # SRN: the <name> read; scene folders: the root's folder name
  convention: str  # 'opencv' or 'opengl' (camera_frames.CONVENTIONS)
  up_axis: str  # the world axis that became +z, e.g. '+y'
  fov_deg: float  # of the square the model sees
  scenes: dict  # split -> list of SceneFiles
  poses: dict  # split -> list of float32 [S, 5] GQN viewpoints, one per scene

  def describe(self):
    counts = ", ".join(f"{len(self.scenes[split])} {split}" for split in SPLITS)
    return (f"{self.layout} scenes '{self.name}' under {self.root}: {counts} scenes; camera "
            f"axes {self.convention}, world up {self.up_axis} (made +z), field of view "
            f"{self.fov_deg:.1f} degrees")


def parse_numbers(text, where, what):
  """The floats of a whitespace-separated text; PosedDataError naming `where` otherwise."""
  try:
    return np.array([float(word) for word in text.split()], np.float64)
  except ValueError as error:
    raise PosedDataError(f"{where}: {what} must be numbers separated by spaces or lines "
                         f"({error})") from None


def read_text(path):
  try:
    return paths.resolve(path).read_text()
  except FileNotFoundError:
    raise PosedDataError(f"{path}: missing") from None


def square_fov_deg(fov_x_deg, width, height):
  """Field of view across the centre square cropped from a width x height image."""
  half = math.tan(math.radians(fov_x_deg) / 2) * min(width, height) / width
  return math.degrees(2 * math.atan(half))


def read_view(path, image_size):
  """uint8 [image_size, image_size, 3]: the view at `path` on white, centre square, area-resized."""
  with paths.resolve(path).open("rb") as file:
    image = Image.open(file)
    image.load()
  if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    image = Image.alpha_composite(white, rgba)
  image = image.convert("RGB")
  width, height = image.size
  side = min(width, height)
  if width != height:
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
  if side != image_size:
    image = image.resize((image_size, image_size), Image.BOX)
  return np.asarray(image, np.uint8)


@functools.cache
def _shared_pool():
  """The threads every read of image files shares (decodes, header checks)."""
  return concurrent.futures.ThreadPoolExecutor(_READ_THREADS, thread_name_prefix="gqn_jax-png")


def read_views(scene, view_indices, image_size):
  """uint8 [V, image_size, image_size, 3] of the scene's views `view_indices`, decoded in
  parallel (Pillow releases the GIL while it decodes)."""
  paths_V = [scene.image_paths[int(index)] for index in view_indices]
  return np.stack(list(_shared_pool().map(functools.partial(read_view, image_size=image_size),
                                          paths_V)))


def _image_size(path):
  try:
    with paths.resolve(path).open("rb") as file:
      return Image.open(file).size
  except FileNotFoundError:
    raise PosedDataError(f"{path}: image missing") from None
  except (OSError, Image.UnidentifiedImageError) as error:
    raise PosedDataError(f"{path}: not an image Pillow can read ({error}); re-export it") from None


def check_image_sizes(scenes):
  """The (width, height) of every scene's images (read from the headers), one size per scene;
  PosedDataError naming a scene whose images differ in size."""
  sizes = list(_shared_pool().map(lambda scene: list(map(_image_size, scene.image_paths)), scenes))
  per_scene = []
  for scene, scene_sizes in zip(scenes, sizes):
    if len(set(scene_sizes)) > 1:
      first = scene_sizes[0]
      odd = next(i for i, size in enumerate(scene_sizes) if size != first)
      raise PosedDataError(
          f"{scene.image_paths[odd]}: {scene_sizes[odd][0]}x{scene_sizes[odd][1]} pixels, but "
          f"{scene.image_paths[0]} of the same scene is {first[0]}x{first[1]}: a scene's views "
          "must share one size (one camera); resize or re-render them")
    per_scene.append(scene_sizes[0])
  return per_scene


def check_fields_of_view(scenes, image_sizes):
  """The one field of view (of the centre square) all scenes share; PosedDataError naming the
  scenes that differ (a GQN assumes one camera model)."""
  fovs = np.array([square_fov_deg(scene.fov_x_deg, *size)
                   for scene, size in zip(scenes, image_sizes)])
  reference = float(np.median(fovs))
  odd = [(scene.name, fov) for scene, fov in zip(scenes, fovs)
         if abs(fov - reference) > FOV_TOLERANCE_DEG]
  if odd:
    shown = ", ".join(f"{name} ({fov:.2f})" for name, fov in odd[:5])
    raise PosedDataError(
        f"{len(odd)} of {len(scenes)} scenes have another field of view than the "
        f"{reference:.2f} degrees of the rest: {shown}{' ...' if len(odd) > 5 else ''}. A GQN "
        "assumes one camera model: keep scenes of one field of view (or crop them to it)")
  return reference


def check_views(scenes, max_context):
  for scene in scenes:
    if scene.num_views < max_context + 1:
      raise PosedDataError(
          f"{scene.name}: {scene.num_views} views, but config.data.max_context={max_context} "
          f"needs {max_context + 1} per scene (the context and one query); remove the scene or "
          "lower max_context")


def _list_layout(layout, root, name, split):
  from gqn_jax.data import scene_folders  # pylint: disable=g-import-not-at-top
  from gqn_jax.data import srn  # pylint: disable=g-import-not-at-top
  module = {"srn": srn, "scene_folders": scene_folders}[layout]
  return module.list_scenes(root, split, name), module.CONVENTION, module.dataset_name(root, name)


def what_is_at(root):
  """A short listing of `root`'s entries and the layouts this reader accepts, for errors."""
  try:
    entries = sorted(entry.name + ("/" if entry.is_dir() else "")
                     for entry in paths.resolve(root).iterdir())
  except FileNotFoundError:
    return f"{root} does not exist"
  shown = ", ".join(entries[:12]) + (" ..." if len(entries) > 12 else "") if entries else "nothing"
  return (f"found at {root}: {shown}. Accepted layouts: 'srn' (ROOT/<name>_train|_test/<instance>"
          "/rgb/*.png, pose/*.txt, intrinsics.txt; configs/srn.py) and 'scene_folders' "
          "(ROOT/train|test/<scene>/transforms.json and its images; configs/scene_folders.py)")


def scene_folders_in(root, split_dir_name, needs):
  """The scene folders of ROOT/`split_dir_name`, sorted by name; PosedDataError when the split
  folder is missing (saying the layout `needs` it) or empty."""
  split_dir = paths.resolve(root) / split_dir_name
  if not split_dir.is_dir():
    raise PosedDataError(f"{split_dir} is missing: {needs} ({what_is_at(root)})")
  folders = sorted((entry for entry in split_dir.iterdir() if entry.is_dir()),
                   key=lambda entry: entry.name)
  if not folders:
    raise PosedDataError(f"{split_dir} holds no scene folders")
  return folders


def _viewpoints(scenes, convention, rotation):
  poses = []
  for scene in scenes:
    poses_Sx5, roll_deg = camera_frames.viewpoints(scene.matrices_Sx4x4, convention, rotation)
    camera_frames.check_roll(roll_deg, poses_Sx5[:, 4], scene.pose_names)
    poses.append(poses_Sx5.astype(np.float32))
  return poses


@functools.cache
def load(layout, root, name, max_context):
  """The PosedDataset under `root` in `layout` (both splits), checked for a run with
  `max_context` context views. Cached: training, camera_scale and evaluation share one read."""
  if layout not in LAYOUTS:
    raise ValueError(f"unknown layout {layout!r}; known: {LAYOUTS}")
  root = str(root).rstrip("/")
  if not paths.resolve(root).is_dir():
    raise PosedDataError(f"config.data.root={root} is not a folder; point it at the dataset's "
                         f"root ({what_is_at(root)})")
  scenes = {}
  for split in SPLITS:
    scenes[split], convention, label = _list_layout(layout, root, name, split)
    check_views(scenes[split], max_context)
  every = scenes["train"] + scenes["test"]
  fov = check_fields_of_view(every, check_image_sizes(every))
  up_scenes = scenes["train"][:UP_AXIS_SCENES]
  _, up_vectors, _, _ = camera_frames.camera_axes(
      np.concatenate([scene.matrices_Sx4x4 for scene in up_scenes]), convention)
  axis, sign = camera_frames.find_up_axis(up_vectors, f"{root} (training scenes)")
  rotation = camera_frames.up_rotation(axis, sign)
  return PosedDataset(
      layout=layout, root=root, name=label, convention=convention,
      up_axis=camera_frames.up_axis_name(axis, sign), fov_deg=fov, scenes=scenes,
      poses={split: _viewpoints(scenes[split], convention, rotation) for split in SPLITS})


def load_for(data_config):
  """`load` for a run's config.data (source 'srn' or 'scene_folders')."""
  return load(data_config.source, os.path.expanduser(str(data_config.root)),
              str(data_config.name), int(data_config.max_context))
