"""Mazes: a random 7 x 7 block maze of corridors and rooms, seen first-person from inside.

The map is a grid of unit blocks, each wall or floor, in the style of DeepMind Lab's mazes: a
7 x 7 interior inside a border of wall (9 x 9 blocks, centred on the origin so x and y run over
[-4.5, 4.5]). Corridors come from a random depth-first spanning tree on the odd cells, then one or
two 3 x 3 rooms are carved out and a few walls knocked through to make loops. Walls are 1 unit
high and brick-textured, each block coloured from a per-scene palette; the floor is a two-tone
checkerboard and there is no ceiling, only sky. Views stand at eye height in random floor cells
with random yaw and a small random pitch.

Rays are intersected with the grid lines (every wall face lies on one) rather than with each
block, so the cost grows with the grid's width, not with the number of blocks.
"""

import numpy as np
import jax
import jax.numpy as jnp

from gqn_jax.scenes import camera
from gqn_jax.scenes import raycast

FRAME_SIZE = 84
SEQUENCE_SIZE = 300
FOV_DEGREES = 60.0
GRID = 9  # blocks per side, border included
WALL_HEIGHT = 1.0
EYE_HEIGHT = 0.5
MAX_PITCH = 0.15  # radians
CELL_MARGIN = 0.25  # cameras stay this far inside their floor cell
PALETTE = np.array([[0.80, 0.25, 0.20], [0.25, 0.60, 0.30], [0.25, 0.40, 0.80],
                    [0.90, 0.75, 0.25], [0.65, 0.35, 0.75], [0.20, 0.70, 0.75],
                    [0.90, 0.50, 0.20], [0.75, 0.75, 0.72]])
SKY_COLOR = (0.70, 0.80, 0.92)
VIEWS_PER_CHUNK = 16  # views traced together; bounds memory for long sequences


def _spanning_tree_maze(rng):
  """Bool walls [GRID, GRID]: a perfect maze on the odd cells, carved by randomised DFS."""
  wall = np.ones((GRID, GRID), bool)
  cells = range(1, GRID - 1, 2)
  start = (int(rng.choice(cells)), int(rng.choice(cells)))
  wall[start] = False
  stack = [start]
  while stack:
    i, j = stack[-1]
    options = [(i + di, j + dj) for di, dj in ((2, 0), (-2, 0), (0, 2), (0, -2))
               if 1 <= i + di < GRID - 1 and 1 <= j + dj < GRID - 1 and wall[i + di, j + dj]]
    if not options:
      stack.pop()
      continue
    ni, nj = options[rng.integers(len(options))]
    wall[(i + ni) // 2, (j + nj) // 2] = False
    wall[ni, nj] = False
    stack.append((ni, nj))
  return wall


def sample_layout(rng):
  """Bool walls [GRID, GRID] of a connected maze with rooms and loops; the border is wall."""
  wall = _spanning_tree_maze(rng)
  for _ in range(rng.integers(1, 3)):  # rooms
    i, j = rng.choice(range(1, GRID - 3, 2), size=2)
    wall[i:i + 3, j:j + 3] = False
  interior_walls = [(i, j) for i in range(1, GRID - 1) for j in range(1, GRID - 1)
                    if wall[i, j] and (i % 2) != (j % 2)]  # walls between two odd cells
  for index in rng.permutation(len(interior_walls))[:rng.integers(1, 4)]:
    wall[interior_walls[index]] = False
  return wall


def floor_cells(wall):
  """Integer (i, j) [N, 2] of the floor blocks."""
  return np.argwhere(~wall)


def _block_origin(i, j):
  """World (x, y) of the low corner of block (i, j)."""
  return i - GRID / 2, j - GRID / 2


def sample_scene(rng, sequence_size):
  """One maze and first-person views in it: (params dict of arrays, poses [S, 5])."""
  wall = sample_layout(rng)
  palette = PALETTE[rng.choice(len(PALETTE), size=4, replace=False)]
  block_color = palette[rng.integers(len(palette), size=(GRID, GRID))]
  floor_tones = np.array([0.62, 0.52])[:, None] * np.array([1.0, 0.95, 0.85])[None]
  floors = floor_cells(wall)
  chosen = floors[rng.integers(len(floors), size=sequence_size)]
  corner_x, corner_y = _block_origin(chosen[:, 0], chosen[:, 1])
  span = (CELL_MARGIN, 1 - CELL_MARGIN)
  poses_Sx5 = np.stack([
      corner_x + rng.uniform(*span, sequence_size),
      corner_y + rng.uniform(*span, sequence_size),
      np.full(sequence_size, EYE_HEIGHT),
      rng.uniform(-np.pi, np.pi, sequence_size),
      rng.uniform(-MAX_PITCH, MAX_PITCH, sequence_size),
  ], axis=-1)
  params = {
      "wall": wall,
      "block_color": block_color.astype(np.float32),
      "floor_tones": floor_tones.astype(np.float32),
  }
  return params, poses_Sx5.astype(np.float32)


def _wall_hit(wall, origins_Rx3, directions_Rx3, axis):
  """Nearest wall face on grid lines across `axis` (0: x = const, 1: y = const): t [R], block."""
  grid_o = origins_Rx3[:, :2] + GRID / 2  # in block units, 0 at the map's low corner
  lines_L = jnp.arange(GRID + 1, dtype=jnp.float32)
  along, across = directions_Rx3[:, axis], directions_Rx3[:, 1 - axis]
  safe = jnp.where(jnp.abs(along) < 1e-9, 1e-9, along)
  t_RxL = (lines_L[None] - grid_o[:, axis:axis + 1]) / safe[:, None]
  entered_RxL = lines_L[None].astype(jnp.int32) - (along[:, None] < 0).astype(jnp.int32)
  other_RxL = jnp.floor(grid_o[:, 1 - axis:2 - axis] + t_RxL * across[:, None]).astype(jnp.int32)
  inside = (entered_RxL >= 0) & (entered_RxL < GRID) & (other_RxL >= 0) & (other_RxL < GRID)
  i_RxL, j_RxL = (entered_RxL, other_RxL) if axis == 0 else (other_RxL, entered_RxL)
  is_wall = wall[jnp.clip(i_RxL, 0, GRID - 1), jnp.clip(j_RxL, 0, GRID - 1)]
  t_RxL = jnp.where((t_RxL > raycast.EPS) & inside & is_wall, t_RxL, jnp.inf)
  best_R = jnp.argmin(t_RxL, axis=1)
  take = lambda values: jnp.take_along_axis(values, best_R[:, None], axis=1)[:, 0]
  return take(t_RxL), take(jnp.clip(i_RxL, 0, GRID - 1)), take(jnp.clip(j_RxL, 0, GRID - 1))


def _brick(face_coord_R, z_R):
  """1 on brick faces, darker on the mortar lines of a running-bond pattern."""
  course = jnp.floor(z_R * 4)
  offset = 0.25 * (course % 2)
  mortar = ((z_R * 4 - course) < 0.08) | (jnp.mod(face_coord_R * 2 + offset, 1.0) < 0.05)
  return jnp.where(mortar, 0.6, 1.0)


def _trace_view(params, pose_5, frame_size):
  """One view's colours [H * W, 3]."""
  origins, directions = camera.camera_rays(pose_5[None], frame_size, FOV_DEGREES)
  origins, directions = origins.reshape(-1, 3), directions.reshape(-1, 3)
  t_x, i_x, j_x = _wall_hit(params["wall"], origins, directions, axis=0)
  t_y, i_y, j_y = _wall_hit(params["wall"], origins, directions, axis=1)
  x_face = t_x <= t_y
  t_wall = jnp.minimum(t_x, t_y)
  dz = directions[:, 2]
  t_floor = jnp.where(dz < 0, -origins[:, 2] / jnp.where(dz < 0, dz, -1.0), jnp.inf)
  t_sky = jnp.where(dz > 0, (WALL_HEIGHT - origins[:, 2]) / jnp.where(dz > 0, dz, 1.0), jnp.inf)
  t_R = jnp.minimum(t_wall, jnp.minimum(t_floor, t_sky))
  point = origins + jnp.where(jnp.isinf(t_R), 0.0, t_R)[:, None] * directions
  block_color = params["block_color"][jnp.where(x_face, i_x, i_y), jnp.where(x_face, j_x, j_y)]
  face_coord = jnp.where(x_face, point[:, 1], point[:, 0])
  wall_color = block_color * (_brick(face_coord, point[:, 2]) *
                              jnp.where(x_face, 0.95, 0.75))[:, None]
  parity = ((jnp.floor(point[:, 0]) + jnp.floor(point[:, 1])) % 2).astype(jnp.int32)
  floor_color = params["floor_tones"][parity]
  color = jnp.where((t_wall <= t_floor)[:, None], wall_color, floor_color)
  fog = 0.5 + 0.5 * jnp.exp(-jnp.where(jnp.isinf(t_R), 0.0, t_R) / 5.0)
  color = color * fog[:, None]
  sky = (t_sky < jnp.minimum(t_wall, t_floor))[:, None]
  return jnp.where(sky, jnp.asarray(SKY_COLOR), color)


def render(params, poses_Sx5, frame_size):
  """Frames uint8 [S, H, W, 3] of one maze (traceable; jit with static frame_size)."""
  poses_Sx5 = jnp.asarray(poses_Sx5, jnp.float32)
  colors_SxRx3 = jax.lax.map(lambda pose: _trace_view(params, pose, frame_size), poses_Sx5,
                             batch_size=VIEWS_PER_CHUNK)
  return raycast.to_uint8(colors_SxRx3).reshape(poses_Sx5.shape[0], frame_size, frame_size, 3)
