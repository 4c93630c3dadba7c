"""Rooms with a ring camera: a 7 x 7 room with coloured walls and a tiled floor, 1-3 objects.

Following DeepMind's description of rooms_ring_camera: the wall colour is one of five (red,
green, cerise, orange, yellow) and the floor one of three (yellow, white, blue) per scene; the
objects are spheres, cubes, cylinders or cones of random colour, size, place and turn. A
directional light from a random direction above casts hard shadows of the objects on the floor
and on each other (soft shadows by several jittered shadow rays cost 4x the rendering time, so
they were left out); the walls cast none and the room has no ceiling
(rays leaving over the walls see a plain sky). Cameras sit on a horizontal ring inside the room
and look at a point above the room's centre.
"""

import numpy as np
import jax.numpy as jnp

from gqn_jax.scenes import camera
from gqn_jax.scenes import raycast
from gqn_jax.scenes import shepard_metzler

FRAME_SIZE = 64
SEQUENCE_SIZE = 10
FOV_DEGREES = 50.0
ROOM_HALF_WIDTH = 3.5  # the room spans [-3.5, 3.5] in x and y, floor at z = 0
WALL_HEIGHT = 3.0
RING_RADIUS = 3.0
CAMERA_HEIGHT = 1.5
LOOK_AT = (0.0, 0.0, 0.5)
PLACEMENT_RADIUS = 1.9  # object centres stay within this distance of the room's centre
MAX_OBJECTS = 3
SPHERE, BOX, CYLINDER, CONE = range(4)
SHAPE_NAMES = ("sphere", "cube", "cylinder", "cone")
WALL_COLORS = np.array([[0.80, 0.20, 0.18], [0.25, 0.65, 0.25], [0.85, 0.20, 0.55],
                        [0.95, 0.55, 0.15], [0.90, 0.82, 0.25]])  # red green cerise orange yellow
FLOOR_COLORS = np.array([[0.90, 0.85, 0.45], [0.88, 0.88, 0.88], [0.30, 0.45, 0.80]])
SKY_COLOR = (0.72, 0.82, 0.92)
AMBIENT = 0.35


def _sample_objects(rng):
  """Shapes, base positions, sizes, heights and yaws (lists) of 1-3 non-overlapping objects."""
  count = rng.integers(1, MAX_OBJECTS + 1)
  shape_ids, positions, sizes, heights, yaws, footprints = [], [], [], [], [], []
  while len(shape_ids) < count:
    shape = int(rng.integers(len(SHAPE_NAMES)))
    size = rng.uniform(0.35, 0.65)
    height = {SPHERE: 2 * size, BOX: 2 * size, CYLINDER: rng.uniform(0.6, 1.4),
              CONE: rng.uniform(0.8, 1.6)}[shape]
    footprint = size * (np.sqrt(2) if shape == BOX else 1.0)  # radius of the base's circumcircle
    radius, angle = PLACEMENT_RADIUS * np.sqrt(rng.uniform()), rng.uniform(-np.pi, np.pi)
    position = np.array([radius * np.cos(angle), radius * np.sin(angle), 0.0])
    if any(np.linalg.norm(position[:2] - other[:2]) <= footprint + other_footprint + 0.05
           for other, other_footprint in zip(positions, footprints)):
      continue  # overlaps an object already placed; draw again
    shape_ids.append(shape)
    positions.append(position)
    sizes.append(size)
    heights.append(height)
    yaws.append(rng.uniform(-np.pi, np.pi))
    footprints.append(footprint)
  return shape_ids, positions, sizes, heights, yaws


def _light_direction(rng):
  azimuth = rng.uniform(-np.pi, np.pi)
  elevation = rng.uniform(np.radians(40), np.radians(70))
  return camera.view_direction(azimuth, elevation, xp=np)


def sample_scene(rng, sequence_size):
  """One room and its ring cameras: (params dict of fixed-shape arrays, poses [S, 5])."""
  shape_ids, positions, sizes, heights, yaws = _sample_objects(rng)
  count = len(shape_ids)
  pad = MAX_OBJECTS - count
  params = {
      "shape": np.array(shape_ids + [0] * pad, np.int32),
      "position": np.concatenate([np.array(positions), np.zeros((pad, 3))]).astype(np.float32),
      "size": np.array(sizes + [1.0] * pad, np.float32),
      "height": np.array(heights + [1.0] * pad, np.float32),
      "yaw": np.array(yaws + [0.0] * pad, np.float32),
      "color": np.concatenate([shepard_metzler.random_colors(rng, count),
                               np.zeros((pad, 3))]).astype(np.float32),
      "valid": np.arange(MAX_OBJECTS) < count,
      "wall_color": WALL_COLORS[rng.integers(len(WALL_COLORS))].astype(np.float32),
      "floor_color": FLOOR_COLORS[rng.integers(len(FLOOR_COLORS))].astype(np.float32),
      "light": _light_direction(rng).astype(np.float32),
  }
  poses_Sx5 = camera.ring_cameras(rng, sequence_size, RING_RADIUS, CAMERA_HEIGHT, LOOK_AT)
  return params, poses_Sx5.astype(np.float32)


def _objects_hit(params, origins_Rx3, directions_Rx3):
  """Nearest object hit per ray, over every shape kind."""
  shape, valid = params["shape"], params["valid"]
  position, size, height = params["position"], params["size"], params["height"]
  color = params["color"]
  lift = lambda dz: position + jnp.stack([jnp.zeros_like(dz), jnp.zeros_like(dz), dz], -1)
  return raycast.nearest(
      raycast.intersect_spheres(origins_Rx3, directions_Rx3, lift(size), size, color,
                                valid & (shape == SPHERE)),
      raycast.intersect_boxes(origins_Rx3, directions_Rx3, lift(height / 2),
                              jnp.stack([size, size, height / 2], -1), params["yaw"], color,
                              valid & (shape == BOX)),
      raycast.intersect_cylinders(origins_Rx3, directions_Rx3, position, size, height, color,
                                  valid & (shape == CYLINDER)),
      raycast.intersect_cones(origins_Rx3, directions_Rx3, position, size, height, color,
                              valid & (shape == CONE)),
  )


def _room_hit(params, origins_Rx3, directions_Rx3):
  """Where rays from inside the room leave it: (Hit, is_sky [R])."""
  low = jnp.array([-ROOM_HALF_WIDTH, -ROOM_HALF_WIDTH, 0.0])
  high = jnp.array([ROOM_HALF_WIDTH, ROOM_HALF_WIDTH, WALL_HEIGHT])
  inverse = 1.0 / jnp.where(jnp.abs(directions_Rx3) < 1e-12, 1e-12, directions_Rx3)
  t_exit_Rx3 = jnp.maximum((low - origins_Rx3) * inverse, (high - origins_Rx3) * inverse)
  t_R = jnp.min(t_exit_Rx3, axis=-1)
  axis_R = jnp.argmin(t_exit_Rx3, axis=-1)
  normal_Rx3 = -jnp.sign(directions_Rx3) * _one_hot(axis_R)
  point_Rx3 = origins_Rx3 + t_R[:, None] * directions_Rx3
  is_floor = (axis_R == 2) & (directions_Rx3[:, 2] < 0)
  is_sky = (axis_R == 2) & (directions_Rx3[:, 2] >= 0)
  tile_parity = (jnp.floor(point_Rx3[:, 0]) + jnp.floor(point_Rx3[:, 1])) % 2
  floor_Rx3 = params["floor_color"] * (1.0 - 0.12 * tile_parity)[:, None]
  color_Rx3 = jnp.where(is_floor[:, None], floor_Rx3, params["wall_color"])
  return raycast.Hit(t_R, normal_Rx3, color_Rx3), is_sky


def _one_hot(axis_R):
  return (axis_R[:, None] == jnp.arange(3)).astype(jnp.float32)


def render(params, poses_Sx5, frame_size):
  """Frames uint8 [S, H, W, 3] of one room (traceable; jit with static frame_size)."""
  origins, directions = camera.camera_rays(poses_Sx5, frame_size, FOV_DEGREES)
  origins, directions = origins.reshape(-1, 3), directions.reshape(-1, 3)
  room, is_sky = _room_hit(params, origins, directions)
  objects = _objects_hit(params, origins, directions)
  on_object = objects.t < room.t
  hit = raycast.nearest(objects, room)
  points_Rx3 = origins + hit.t[:, None] * directions + 1e-3 * hit.normal
  to_light_Rx3 = jnp.broadcast_to(params["light"], points_Rx3.shape)
  visibility_R = jnp.isinf(_objects_hit(params, points_Rx3, to_light_Rx3).t).astype(jnp.float32)
  brightness_R = raycast.lambert(hit.normal, params["light"], AMBIENT, visibility_R)
  colors_Rx3 = hit.color * brightness_R[:, None]
  colors_Rx3 = jnp.where((is_sky & ~on_object)[:, None], jnp.asarray(SKY_COLOR), colors_Rx3)
  return raycast.to_uint8(colors_Rx3).reshape(poses_Sx5.shape[0], frame_size, frame_size, 3)
