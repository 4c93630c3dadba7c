"""Shepard-Metzler objects: unit cubes joined face to face by a self-avoiding walk on a 3D grid.

Each cube gets its own random colour; a directional key light, a weaker fill light from the
opposite side and an ambient term shade the faces. Cameras lie on a sphere around the centre of
the object's bounding box and look at it. The sphere's radius is set per object: the object's
bounding ball (about that centre) fills the frame but for a 5% margin, so the object is as large
as it can be while staying wholly in view from every direction.
"""

import colorsys

import numpy as np
import jax.numpy as jnp

from gqn_jax.scenes import camera
from gqn_jax.scenes import raycast

FRAME_SIZE = 64
SEQUENCE_SIZE = 15
FOV_DEGREES = 50.0
MAX_ELEVATION = np.radians(75.0)
BACKGROUND = (0.0, 0.0, 0.0)
AMBIENT = 0.4
KEY_LIGHT = np.array([0.45, 0.3, 0.84]) / np.linalg.norm([0.45, 0.3, 0.84])
FILL_LIGHT = -KEY_LIGHT
FILL_STRENGTH = 0.3
_STEPS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])


def camera_distance(bounding_radius):
  """Sphere radius from which a ball of `bounding_radius` fills the frame with a 5% margin."""
  return 1.05 * bounding_radius / np.sin(np.radians(FOV_DEGREES) / 2)


def bounding_radius(centres_Nx3):
  """Radius of the smallest origin-centred ball holding every corner of the unit cubes."""
  corners_Nx8x3 = centres_Nx3[:, None, :] + 0.5 * np.array(
      [[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
  return float(np.linalg.norm(corners_Nx8x3, axis=-1).max())


def self_avoiding_walk(rng, num_parts):
  """Integer grid cells [num_parts, 3]: each a face neighbour of the previous, none repeated."""
  while True:
    cells = [np.zeros(3, np.int64)]
    occupied = {(0, 0, 0)}
    for _ in range(num_parts - 1):
      free = [step for step in _STEPS if tuple(cells[-1] + step) not in occupied]
      if not free:  # trapped (possible only for long walks); start again
        break
      cells.append(cells[-1] + free[rng.integers(len(free))])
      occupied.add(tuple(cells[-1]))
    if len(cells) == num_parts:
      return np.stack(cells)


def random_colors(rng, count):
  """Saturated random colours [count, 3] in [0, 1]."""
  hues = rng.uniform(0, 1, count)
  saturations = rng.uniform(0.55, 1.0, count)
  values = rng.uniform(0.75, 1.0, count)
  return np.array([colorsys.hsv_to_rgb(h, s, v) for h, s, v in zip(hues, saturations, values)])


def sample_scene(rng, sequence_size, num_parts):
  """One object and its cameras: (params dict of arrays, poses [S, 5])."""
  cells_Nx3 = self_avoiding_walk(rng, num_parts).astype(np.float64)
  centre_3 = (cells_Nx3.min(axis=0) + cells_Nx3.max(axis=0)) / 2
  params = {
      "centres": (cells_Nx3 - centre_3).astype(np.float32),  # the object is centred at 0
      "colors": random_colors(rng, num_parts).astype(np.float32),
      "valid": np.ones(num_parts, bool),
  }
  radius = camera_distance(bounding_radius(params["centres"].astype(np.float64)))
  poses_Sx5 = camera.sphere_cameras(rng, sequence_size, np.zeros(3), radius, MAX_ELEVATION)
  return params, poses_Sx5.astype(np.float32)


def render(params, poses_Sx5, frame_size):
  """Frames uint8 [S, H, W, 3] of one object (traceable; jit with static frame_size)."""
  origins, directions = camera.camera_rays(poses_Sx5, frame_size, FOV_DEGREES)
  origins, directions = origins.reshape(-1, 3), directions.reshape(-1, 3)
  centres_Nx3 = params["centres"]
  num_parts = centres_Nx3.shape[0]
  hit = raycast.intersect_boxes(
      origins, directions, centres_Nx3, jnp.full((num_parts, 3), 0.5), None,
      params["colors"], params["valid"])
  brightness_R = (raycast.lambert(hit.normal, jnp.asarray(KEY_LIGHT, jnp.float32), AMBIENT) +
                  FILL_STRENGTH * jnp.maximum(hit.normal @ jnp.asarray(FILL_LIGHT, jnp.float32),
                                              0.0))
  colors_Rx3 = jnp.where(jnp.isinf(hit.t)[:, None], jnp.asarray(BACKGROUND),
                         hit.color * brightness_R[:, None])
  return raycast.to_uint8(colors_Rx3).reshape(poses_Sx5.shape[0], frame_size, frame_size, 3)
