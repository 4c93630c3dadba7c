"""The SRN layout (ShapeNet renderings of Sitzmann et al.'s scene representation networks, the
cars and chairs that pixelNeRF and later few-view papers report on), read in place:

  ROOT/<name>_train/<instance>/rgb/NNNNNN.png     one image per view (RGB or RGBA)
                              /pose/NNNNNN.txt    its 4x4 camera-to-world matrix, 16 numbers,
                                                  OpenCV camera axes (x right, y down, z forward)
                              /intrinsics.txt     'f cx cy 0' / 3 numbers / scale / 'height width'
  ROOT/<name>_test/...                            the held-out instances (a _val split is ignored)

`<name>` is any word (cars, chairs, ...): the only one under ROOT, or config.data.name when ROOT
holds several. Views pair an image with the pose file of the same stem.
"""

import math

import numpy as np

from gqn_jax.data import camera_frames
from gqn_jax.data import posed_scenes
from gqn_jax.runtime import paths

CONVENTION = "opencv"
DEFAULT_NAME = "srn"  # config.data.name meaning "the only <name> under the root"


def find_names(root):
  """The <name>s of the `<name>_train` folders under `root`, sorted."""
  return sorted(entry.name[:-len("_train")] for entry in paths.resolve(root).iterdir()
                if entry.name.endswith("_train") and entry.is_dir())


def dataset_name(root, name):
  """The <name> to read: `name`, or the only one under `root` when name is DEFAULT_NAME."""
  names = find_names(root)
  if not names:
    raise posed_scenes.PosedDataError(
        f"{root} holds no '<name>_train' folder, so it is not an SRN root; "
        f"{posed_scenes.what_is_at(root)}")
  if name in names:
    return name
  if name == DEFAULT_NAME and len(names) == 1:
    return names[0]
  raise posed_scenes.PosedDataError(
      f"{root} holds the SRN datasets {names}; pick one with --config.data.name=<name>"
      + ("" if name == DEFAULT_NAME else f" ({name!r} is not among them)"))


def field_of_view_deg(path):
  """Horizontal field of view of an SRN intrinsics.txt (focal length over the stated width)."""
  lines = [line for line in posed_scenes.read_text(path).splitlines() if line.strip()]
  first = posed_scenes.parse_numbers(lines[0], path, "intrinsics") if lines else np.array([])
  size = posed_scenes.parse_numbers(lines[3], path, "intrinsics") if len(lines) >= 4 else None
  if len(first) < 3 or size is None or len(size) != 2 or first[0] <= 0 or size[1] <= 0:
    raise posed_scenes.PosedDataError(
        f"{path}: expected SRN intrinsics: 'focal cx cy 0', then 3 numbers, the scale, and "
        "'height width' on the fourth line")
  return math.degrees(2 * math.atan(size[1] / 2 / first[0]))


def read_pose(path):
  numbers = posed_scenes.parse_numbers(posed_scenes.read_text(path), path, "a pose")
  if numbers.size != 16:
    raise posed_scenes.PosedDataError(
        f"{path}: a pose file holds 16 numbers (a 4x4 camera-to-world matrix, row by row); "
        f"this one holds {numbers.size}")
  return camera_frames.check_matrix(numbers.reshape(4, 4), path)


def _files_by_stem(folder, suffixes):
  return {entry.stem: str(entry) for entry in folder.iterdir()
          if entry.suffix.lower() in suffixes}


def read_instance(folder, name):
  """The SceneFiles of one instance folder."""
  images = _files_by_stem(folder / "rgb", posed_scenes.IMAGE_SUFFIXES) if (
      folder / "rgb").is_dir() else {}
  poses = _files_by_stem(folder / "pose", (".txt",)) if (folder / "pose").is_dir() else {}
  for have, lack, kind in ((images, poses, "pose/<stem>.txt"), (poses, images, "rgb/<stem>.png")):
    missing = sorted(set(have) - set(lack))
    if missing:
      raise posed_scenes.PosedDataError(
          f"{have[missing[0]]}: no {kind.replace('<stem>', missing[0])} beside it in {folder} "
          f"({len(missing)} such views); every view needs an image and a pose")
  if not images:
    raise posed_scenes.PosedDataError(
        f"{folder}: no views (expected rgb/*.png with pose/*.txt); remove the folder or fill it")
  stems = sorted(images)
  return posed_scenes.SceneFiles(
      name=name, image_paths=tuple(images[stem] for stem in stems),
      pose_names=tuple(poses[stem] for stem in stems),
      matrices_Sx4x4=np.stack([read_pose(poses[stem]) for stem in stems]),
      fov_x_deg=field_of_view_deg(folder / "intrinsics.txt"))


def list_scenes(root, split, name=DEFAULT_NAME):
  """The SceneFiles of every instance of `split` ('train' or 'test'), sorted by folder name."""
  name = dataset_name(root, name)
  instances = posed_scenes.scene_folders_in(
      root, f"{name}_{split}", f"an SRN root needs {name}_train and {name}_test")
  return [read_instance(folder, f"{name}_{split}/{folder.name}") for folder in instances]
