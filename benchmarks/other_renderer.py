"""Shepard-Metzler-like scenes from a second renderer that shares no code with gqn_jax.scenes.

  python benchmarks/other_renderer.py --root=/root/other_renderer --train=2000 --test=100

writes `<root>/shepard_metzler_7_parts/{train,test}/NNN-of-900.tfrecord` (test: `-of-100`) in
DeepMind's format: one JPEG per view, 15 views of 64x64, poses (x, y, z, yaw, pitch). The reader
takes them for a partial download of DeepMind's files, so a preset trains on them with
`--config.data.source=deepmind --config.data.root=<root>`. It checks that a recipe learns the
task rather than one renderer's conventions (docs/learning.md, screen 5).

  python benchmarks/other_renderer.py --layout=srn,scene_folders --root=/root/posed --train=1500

writes the same scenes as posed image files instead, each camera a 4x4 camera-to-world matrix
written from this renderer's own camera axes: `<root>/srn/other_sm7_{train,test}/<instance>/`
(rgb/*.png on the sky, pose/*.txt with OpenCV axes, intrinsics.txt) and
`<root>/scene_folders/{train,test}/<scene>/` (transforms.json with OpenGL axes, RGBA PNGs whose
sky is transparent, file paths without '.png' as Blender's exporters write them).

What differs from gqn_jax.scenes on purpose:
- shapes: each of the 7 parts is a sphere (radius 1) or a cube (side 2), at random, on a lattice
  of spacing 2 grown by a random walk that may branch; each part has its own colour, drawn in HSV;
- cameras: 38 units from the object's centre with a 20 degree field of view; the world is y-up,
  the pose's yaw is the viewing direction's angle about y measured from +z, and its pitch is
  positive when the camera looks down;
- shading and background: Lambert under two directional lights plus ambient, a vertical gradient
  sky behind, 2x2 supersampling; the scene's random numbers come from numpy's PCG64 seeded by
  (seed, split, index).
Only the file format (gqn_jax.data.records) is shared: that is what "DeepMind's format" means.
"""

import argparse
import colorsys
import io
import json
import multiprocessing
import os

import numpy as np
from PIL import Image

from gqn_jax.data import records

DATASET = "shepard_metzler_7_parts"
NUM_PARTS = 7
VIEWS = 15
FRAME = 64
SUPERSAMPLE = 2
CAMERA_DISTANCE = 38.0
FIELD_OF_VIEW_DEG = 20.0
_LIGHTS = ((np.array([0.4, 0.8, 0.45]), 0.65), (np.array([-0.6, 0.2, -0.75]), 0.3))
_AMBIENT = 0.2
_SKY_TOP, _SKY_BOTTOM = np.array([0.62, 0.72, 0.86]), np.array([0.30, 0.28, 0.26])
_SPLIT_CODE = {"train": 0, "test": 1}
_NUM_FILES = {"train": 900, "test": 100}  # DeepMind's counts for this dataset


def scene_rng(seed, split, index):
  return np.random.Generator(np.random.PCG64([seed, _SPLIT_CODE[split], index]))


def sample_object(rng):
  """(centres [7, 3], is_sphere [7], colours [7, 3]) of one object, centred on the origin."""
  steps = np.array([[2, 0, 0], [-2, 0, 0], [0, 2, 0], [0, -2, 0], [0, 0, 2], [0, 0, -2]])
  cells = [np.zeros(3, int)]
  while len(cells) < NUM_PARTS:
    base = cells[-1] if rng.random() < 0.7 else cells[rng.integers(len(cells))]
    nxt = base + steps[rng.integers(6)]
    if not any((nxt == c).all() for c in cells):
      cells.append(nxt)
  centres = np.array(cells, float)
  centres -= centres.mean(axis=0)
  colours = np.array([colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.55, 1.0),
                                          rng.uniform(0.7, 1.0)) for _ in range(NUM_PARTS)])
  return centres, rng.random(NUM_PARTS) < 0.5, colours


def sample_pose(rng):
  """Camera position on a sphere of CAMERA_DISTANCE, and its (yaw, pitch) looking at the origin."""
  azimuth = rng.uniform(0, 2 * np.pi)
  elevation = rng.uniform(-0.5, 1.0)
  position = CAMERA_DISTANCE * np.array([np.cos(elevation) * np.sin(azimuth), np.sin(elevation),
                                         np.cos(elevation) * np.cos(azimuth)])
  look = -position / np.linalg.norm(position)
  yaw = np.arctan2(look[0], look[2])
  pitch = np.arcsin(-look[1])  # looking down: positive
  return position, yaw, pitch


def camera_rays(position):
  """Unit ray directions [N, 3] through the supersampled pixel grid of a camera at `position`."""
  forward = -position / np.linalg.norm(position)
  right = np.cross(forward, [0.0, 1.0, 0.0])
  right /= np.linalg.norm(right)
  up = np.cross(right, forward)
  n = FRAME * SUPERSAMPLE
  half = np.tan(np.radians(FIELD_OF_VIEW_DEG) / 2)
  coords = ((np.arange(n) + 0.5) / n * 2 - 1) * half
  x, y = np.meshgrid(coords, -coords)
  rays = forward + x.reshape(-1, 1) * right + y.reshape(-1, 1) * up
  return rays / np.linalg.norm(rays, axis=1, keepdims=True)


def _hit_spheres(origin, rays, centres):
  """Nearest positive hit distance [N, P] of unit spheres (inf where missed)."""
  offset = origin - centres  # [P, 3]
  b = rays @ offset.T  # [N, P]
  c = (offset ** 2).sum(axis=1) - 1.0
  disc = b ** 2 - c
  t = -b - np.sqrt(np.maximum(disc, 0))
  return np.where((disc > 0) & (t > 0), t, np.inf)


def _hit_cubes(origin, rays, centres):
  """Nearest positive hit distance [N, P] of axis-aligned cubes of half-side 1, and the hit face's
  axis [N, P]."""
  with np.errstate(divide="ignore", invalid="ignore"):
    inv = 1.0 / rays  # [N, 3]
    t1 = (centres[None] - 1.0 - origin) * inv[:, None]  # [N, P, 3]
    t2 = (centres[None] + 1.0 - origin) * inv[:, None]
  near, far = np.minimum(t1, t2), np.maximum(t1, t2)
  t_near, t_far = near.max(axis=2), far.min(axis=2)
  hit = (t_far >= t_near) & (t_near > 0)
  return np.where(hit, t_near, np.inf), near.argmax(axis=2)


def render(centres, is_sphere, colours, position):
  """One view [FRAME, FRAME, 3] in [0, 1]."""
  return render_with_coverage(centres, is_sphere, colours, position)[0]


def render_with_coverage(centres, is_sphere, colours, position):
  """One view [FRAME, FRAME, 3] in [0, 1] and the object's coverage of each pixel [FRAME, FRAME]."""
  rays = camera_rays(position)
  t_sphere = _hit_spheres(position, rays, centres)
  t_cube, cube_axis = _hit_cubes(position, rays, centres)
  t = np.where(is_sphere[None], t_sphere, t_cube)  # [N, P]
  part = t.argmin(axis=1)
  rows = np.arange(len(rays))
  t_hit = t[rows, part]
  hit = np.isfinite(t_hit)
  point = position + rays * np.where(hit, t_hit, 0)[:, None]
  sphere_normal = point - centres[part]
  cube_normal = np.zeros_like(point)
  axis = cube_axis[rows, part]
  cube_normal[rows, axis] = -np.sign(rays[rows, axis])
  normal = np.where(is_sphere[part][:, None], sphere_normal, cube_normal)
  normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
  light = np.full(len(rays), _AMBIENT)
  for direction, strength in _LIGHTS:
    light += strength * np.maximum(normal @ (direction / np.linalg.norm(direction)), 0)
  sky = _SKY_BOTTOM + (_SKY_TOP - _SKY_BOTTOM) * ((rays[:, 1:2] + 1) / 2)
  image = np.where(hit[:, None], colours[part] * light[:, None], sky)
  image = image.reshape(FRAME, SUPERSAMPLE, FRAME, SUPERSAMPLE, 3).mean(axis=(1, 3))
  coverage = hit.reshape(FRAME, SUPERSAMPLE, FRAME, SUPERSAMPLE).mean(axis=(1, 3))
  return np.clip(image, 0, 1), coverage


def scene(seed, split, index):
  """(frames [VIEWS, FRAME, FRAME, 3] in [0, 1], poses [VIEWS, 5]) of one scene."""
  rng = scene_rng(seed, split, index)
  centres, is_sphere, colours = sample_object(rng)
  frames, poses = [], []
  for _ in range(VIEWS):
    position, yaw, pitch = sample_pose(rng)
    frames.append(render(centres, is_sphere, colours, position))
    poses.append([*position, yaw, pitch])
  return np.stack(frames), np.array(poses, np.float32)


def _jpeg(frame):
  buffer = io.BytesIO()
  Image.fromarray(np.round(frame * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=95)
  return buffer.getvalue()


def write_split(root, split, num_scenes, seed, scenes_per_file=500):
  """Writes `num_scenes` scenes of `split` as shards 1, 2, ... of DeepMind's file count."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  out_dir = records.split_dir(root, DATASET, split)
  os.makedirs(out_dir, exist_ok=True)
  for shard, start in enumerate(range(0, num_scenes, scenes_per_file), start=1):
    path = os.path.join(out_dir, records.shard_filename(shard, _NUM_FILES[split]))
    with tf.io.TFRecordWriter(path + ".partial") as writer:
      for index in range(start, min(start + scenes_per_file, num_scenes)):
        frames, poses = scene(seed, split, index)
        writer.write(records.serialize_scene([_jpeg(f) for f in frames], poses))
    os.replace(path + ".partial", path)  # a stopped run leaves no half shard under its name
    print(f"wrote {path}", flush=True)


def camera_to_world(position, convention):
  """4x4 camera-to-world matrix of the camera at `position` (camera_rays' axes) in `convention`:
  'opencv' (x right, y down, z forward) or 'opengl' (x right, y up, z backward)."""
  forward = -position / np.linalg.norm(position)
  right = np.cross(forward, [0.0, 1.0, 0.0])
  right /= np.linalg.norm(right)
  up = np.cross(right, forward)
  columns = [right, -up, forward] if convention == "opencv" else [right, up, -forward]
  matrix = np.eye(4)
  matrix[:3, :3] = np.stack(columns, axis=1)
  matrix[:3, 3] = position
  return matrix


def _png(path, pixels):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(path)


def _posed_scene(task):
  """Renders one scene and writes it in each layout asked for."""
  root, layouts, split, index, seed = task
  rng = scene_rng(seed, split, index)
  centres, is_sphere, colours = sample_object(rng)
  name = f"{index:06d}"
  frames = []
  for view in range(VIEWS):
    position, _, _ = sample_pose(rng)
    image, coverage = render_with_coverage(centres, is_sphere, colours, position)
    if "srn" in layouts:
      folder = os.path.join(root, "srn", f"other_sm7_{split}", name)
      _png(os.path.join(folder, "rgb", f"{view:06d}.png"), image)
      os.makedirs(os.path.join(folder, "pose"), exist_ok=True)
      with open(os.path.join(folder, "pose", f"{view:06d}.txt"), "w") as f:
        f.write(" ".join(f"{v:.8f}" for v in camera_to_world(position, "opencv").ravel()) + "\n")
    if "scene_folders" in layouts:
      folder = os.path.join(root, "scene_folders", split, f"scene_{name}")
      _png(os.path.join(folder, f"r_{view}.png"),
           np.concatenate([image, coverage[..., None]], axis=-1))
      frames.append({"file_path": f"./r_{view}",
                     "transform_matrix": camera_to_world(position, "opengl").tolist()})
  if "srn" in layouts:
    focal = FRAME / 2 / np.tan(np.radians(FIELD_OF_VIEW_DEG) / 2)
    with open(os.path.join(root, "srn", f"other_sm7_{split}", name, "intrinsics.txt"), "w") as f:
      f.write(f"{focal:.6f} {FRAME / 2} {FRAME / 2} 0.\n0. 0. 0.\n1.\n{FRAME} {FRAME}\n")
  if "scene_folders" in layouts:
    folder = os.path.join(root, "scene_folders", split, f"scene_{name}")
    with open(os.path.join(folder, "transforms.json"), "w") as f:
      json.dump({"camera_angle_x": float(np.radians(FIELD_OF_VIEW_DEG)), "frames": frames}, f)


def write_posed(root, layouts, counts, seed, processes):
  """Writes `counts` {split: scenes} in the posed layouts, rendering each scene once."""
  tasks = [(root, layouts, split, index, seed) for split, count in counts.items()
           for index in range(count)]
  with multiprocessing.Pool(processes) as pool:
    for done, _ in enumerate(pool.imap_unordered(_posed_scene, tasks, chunksize=8), start=1):
      if done % 200 == 0 or done == len(tasks):
        print(f"wrote {done}/{len(tasks)} scenes under {root}", flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--root", required=True)
  parser.add_argument("--train", type=int, default=4000, help="training scenes")
  parser.add_argument("--test", type=int, default=100, help="held-out scenes")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--layout", default="deepmind",
                      help="deepmind, or srn and/or scene_folders (comma-separated)")
  parser.add_argument("--processes", type=int, default=os.cpu_count())
  args = parser.parse_args()
  layouts = args.layout.split(",")
  if layouts == ["deepmind"]:
    write_split(args.root, "test", args.test, args.seed)
    write_split(args.root, "train", args.train, args.seed)
  else:
    unknown = set(layouts) - {"srn", "scene_folders"}
    if unknown:
      parser.error(f"unknown layouts {sorted(unknown)}")
    write_posed(args.root, layouts, {"test": args.test, "train": args.train}, args.seed,
                args.processes)


if __name__ == "__main__":
  main()
