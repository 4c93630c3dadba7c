"""Geometry of the procedural renderer: camera conventions, projections, scene layouts."""

import functools

import jax
import numpy as np
import pytest

from gqn_jax.scenes import camera
from gqn_jax.scenes import mazes
from gqn_jax.scenes import raycast
from gqn_jax.scenes import rooms
from gqn_jax.scenes import shepard_metzler

SIZE = 64
FOV = shepard_metzler.FOV_DEGREES


@functools.cache
def _render_cubes_fn():
  return jax.jit(functools.partial(shepard_metzler.render, frame_size=SIZE))


def render_cubes(centres_Nx3, poses_Sx5):
  """Frames [S, H, W, 3] of unit cubes at the given centres."""
  centres_Nx3 = np.asarray(centres_Nx3, np.float32)
  params = {"centres": centres_Nx3, "colors": np.ones_like(centres_Nx3),
            "valid": np.ones(len(centres_Nx3), bool)}
  return np.asarray(_render_cubes_fn()(params, np.asarray(poses_Sx5, np.float32)))


def test_basis_is_orthonormal_and_yaw_pitch_follow_the_documented_convention():
  yaw, pitch = np.array([0.0, np.pi / 2, 0.3]), np.array([0.0, 0.0, -0.4])
  forward, right, up = camera.camera_basis(yaw, pitch, xp=np)
  np.testing.assert_allclose(forward[0], [1, 0, 0], atol=1e-12)  # yaw 0 looks along +x
  np.testing.assert_allclose(forward[1], [0, 1, 0], atol=1e-12)  # yaw pi/2 looks along +y
  assert forward[2, 2] < 0  # negative pitch looks down
  np.testing.assert_allclose(up[0], [0, 0, 1], atol=1e-12)  # z is up
  np.testing.assert_allclose(right[0], [0, -1, 0], atol=1e-12)  # right-handed: +y is left
  for a, b in ((forward, right), (forward, up), (right, up)):
    np.testing.assert_allclose(np.sum(a * b, -1), 0, atol=1e-12)
  np.testing.assert_allclose(np.cross(right, forward), up, atol=1e-12)


def test_look_at_inverts_view_direction():
  rng = np.random.default_rng(0)
  positions, targets = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
  poses = camera.look_at(positions, targets)
  direction = (targets - positions) / np.linalg.norm(targets - positions, axis=-1, keepdims=True)
  np.testing.assert_allclose(camera.view_direction(poses[:, 3], poses[:, 4], xp=np), direction,
                             atol=1e-9)
  with pytest.raises(ValueError, match="differ"):
    camera.look_at(np.zeros((1, 3)), np.zeros((1, 3)))


def test_rays_through_projected_points_come_back_to_the_same_pixel():
  pose = camera.look_at([[3.0, -2.0, 1.5]], [[0.2, 0.1, -0.3]])[0]
  origins, directions = camera.camera_rays(pose[None], SIZE, FOV)
  rows, cols = np.array([0, 10, 31, 63]), np.array([5, 40, 31, 63])
  points = np.asarray(origins[0, rows, cols] + 2.5 * directions[0, rows, cols])
  pixels, depth = camera.project_points(points, pose, SIZE, FOV)
  np.testing.assert_allclose(pixels, np.stack([rows, cols], -1), atol=1e-3)
  assert np.all(depth > 0)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_cube_seen_along_an_axis_is_a_square_of_the_projected_size(axis):
  distance = 4.0
  position = np.zeros(3)
  position[axis] = distance
  yaw = {0: np.pi, 1: -np.pi / 2, 2: 0.0}[axis]
  pitch = -np.pi / 2 if axis == 2 else 0.0
  pose = np.concatenate([position, [yaw, pitch]])
  mask = render_cubes([[0, 0, 0]], pose[None])[0].max(-1) > 0
  rows, cols = np.nonzero(mask)
  height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
  # The near face is 1 unit wide at depth distance - 0.5 and nothing else is visible head-on; the
  # image's half width (SIZE / 2 pixels) spans depth * tan(fov / 2) units at that depth.
  expected = (SIZE / 2) / ((distance - 0.5) * np.tan(np.radians(FOV) / 2))
  assert abs(height - expected) <= 1.0 and abs(width - expected) <= 1.0, (height, width, expected)
  assert mask.sum() == height * width  # a filled axis-aligned square, no holes or bulges
  assert abs(rows.mean() - (SIZE - 1) / 2) < 0.51 and abs(cols.mean() - (SIZE - 1) / 2) < 0.51


def test_shading_follows_the_key_light():
  # Look at a cube from the key light's side and from the opposite side: the lit faces are
  # brighter.
  lit = camera.look_at([5 * shepard_metzler.KEY_LIGHT], [np.zeros(3)])
  unlit = camera.look_at([-5 * shepard_metzler.KEY_LIGHT], [np.zeros(3)])
  frames = render_cubes([[0, 0, 0]], np.concatenate([lit, unlit]))
  lit_mean, unlit_mean = (frame[frame.max(-1) > 0].mean() for frame in frames)
  assert lit_mean > 1.2 * unlit_mean


def test_object_is_centred_in_every_view_of_the_sphere_cameras():
  rng = np.random.default_rng(1)
  radius = shepard_metzler.camera_distance(2.0)
  poses = camera.sphere_cameras(rng, 15, np.zeros(3), radius, shepard_metzler.MAX_ELEVATION)
  np.testing.assert_allclose(np.linalg.norm(poses[:, :3], axis=-1), radius, rtol=1e-6)
  # A ball at the centre projects to a disc centred on the image when the camera aims at it.
  origins, directions = camera.camera_rays(poses, SIZE, FOV)
  hit = _jit(raycast.intersect_spheres)(origins.reshape(-1, 3), directions.reshape(-1, 3),
                                        np.zeros((1, 3)), np.array([1.5]), np.ones((1, 3)),
                                        np.array([True]))
  masks = np.isfinite(np.asarray(hit.t)).reshape(15, SIZE, SIZE)
  for mask in masks:
    rows, cols = np.nonzero(mask)
    assert len(rows) > 100
    assert abs(rows.mean() - (SIZE - 1) / 2) < 0.1 and abs(cols.mean() - (SIZE - 1) / 2) < 0.1


def _assert_in_frame_and_large(frames_SxHxWx3):
  border = np.concatenate([frames_SxHxWx3[:, 0], frames_SxHxWx3[:, -1], frames_SxHxWx3[:, :, 0],
                           frames_SxHxWx3[:, :, -1]], 1)
  assert border.max() == 0, "an object touches the frame's edge"
  widest = max(max(np.ptp(rows), np.ptp(cols)) + 1 for rows, cols in
               (np.nonzero(frame.max(-1) > 0) for frame in frames_SxHxWx3))
  assert widest >= 0.5 * SIZE, f"the object spans at most {widest} pixels of {SIZE}"


def test_a_straight_rod_stays_in_frame_from_every_direction():
  centres = np.stack([np.arange(7) - 3.0, np.zeros(7), np.zeros(7)], -1)
  radius = shepard_metzler.camera_distance(shepard_metzler.bounding_radius(centres))
  # Side-on views are the tightest: include the eight around the equator and the two poles' band.
  azimuths = np.linspace(-np.pi, np.pi, 8, endpoint=False)
  positions = np.concatenate([
      radius * camera.view_direction(azimuths, np.zeros(8), xp=np),
      radius * camera.view_direction(np.zeros(2), np.array([-1.3, 1.3]), xp=np)])
  _assert_in_frame_and_large(render_cubes(centres, camera.look_at(positions, 0 * positions)))


@pytest.mark.parametrize("num_parts", [5, 7])
def test_sampled_objects_stay_in_frame_and_centred(num_parts):
  rng = np.random.default_rng(num_parts)
  for _ in range(5):
    params, poses = shepard_metzler.sample_scene(rng, 15, num_parts)
    centre = (params["centres"].min(0) + params["centres"].max(0)) / 2
    np.testing.assert_allclose(centre, 0, atol=1e-6)
    radius = shepard_metzler.camera_distance(shepard_metzler.bounding_radius(params["centres"]))
    np.testing.assert_allclose(np.linalg.norm(poses[:, :3], axis=-1), radius, rtol=1e-5)
    _assert_in_frame_and_large(render_cubes(params["centres"], poses))
    for pose in poses:
      pixel, _ = camera.project_points(np.zeros((1, 3)), pose, SIZE, FOV)
      np.testing.assert_allclose(pixel[0], (SIZE - 1) / 2, atol=1e-3)


@pytest.mark.parametrize("num_parts", [5, 7, 30])
def test_walk_is_self_avoiding_and_face_connected(num_parts):
  rng = np.random.default_rng(0)
  for _ in range(50):
    cells = shepard_metzler.self_avoiding_walk(rng, num_parts)
    assert cells.shape == (num_parts, 3)
    assert len({tuple(cell) for cell in cells}) == num_parts
    np.testing.assert_array_equal(np.abs(np.diff(cells, axis=0)).sum(-1), 1)


def test_walk_uses_all_three_dimensions_over_many_draws():
  rng = np.random.default_rng(0)
  extents = np.array([np.ptp(shepard_metzler.self_avoiding_walk(rng, 7), 0) for _ in range(50)])
  assert np.all(extents.max(0) >= 2)


def test_ring_cameras_share_height_and_radius_and_face_the_target():
  params, poses = rooms.sample_scene(np.random.default_rng(3), 10)
  np.testing.assert_allclose(np.linalg.norm(poses[:, :2], axis=-1), rooms.RING_RADIUS, rtol=1e-6)
  np.testing.assert_allclose(poses[:, 2], rooms.CAMERA_HEIGHT)
  np.testing.assert_allclose(poses[:, 4], poses[0, 4], atol=1e-6)  # one pitch on a ring
  for pose in poses:
    pixel, _ = camera.project_points(np.array([rooms.LOOK_AT]), pose, SIZE, rooms.FOV_DEGREES)
    np.testing.assert_allclose(pixel[0], (SIZE - 1) / 2, atol=1e-3)
  count = params["valid"].sum()
  assert 1 <= count <= rooms.MAX_OBJECTS
  radii = np.linalg.norm(params["position"][:count, :2], axis=-1)
  assert np.all(radii <= rooms.PLACEMENT_RADIUS)


def _connected(floor):
  """Whether the True cells of a 2D bool grid form one 4-connected region."""
  cells = {tuple(cell) for cell in np.argwhere(floor)}
  seen, frontier = set(), [next(iter(cells))]
  while frontier:
    cell = frontier.pop()
    if cell in seen:
      continue
    seen.add(cell)
    i, j = cell
    frontier += [n for n in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)) if n in cells]
  return seen == cells


def test_maze_layouts_are_walled_connected_and_have_rooms():
  rng = np.random.default_rng(0)
  for _ in range(30):
    wall = mazes.sample_layout(rng)
    assert wall.shape == (mazes.GRID, mazes.GRID)
    assert wall[0].all() and wall[-1].all() and wall[:, 0].all() and wall[:, -1].all()
    assert _connected(~wall)
    floor = ~wall
    rooms_found = any(floor[i:i + 3, j:j + 3].all()
                      for i in range(mazes.GRID - 2) for j in range(mazes.GRID - 2))
    assert rooms_found


def test_maze_cameras_stand_on_floor_away_from_walls():
  params, poses = mazes.sample_scene(np.random.default_rng(5), 50)
  block = np.floor(poses[:, :2] + mazes.GRID / 2).astype(int)
  assert not params["wall"][block[:, 0], block[:, 1]].any()
  inside = poses[:, :2] + mazes.GRID / 2 - block
  assert np.all(inside >= mazes.CELL_MARGIN - 1e-6) and np.all(inside <= 1 - mazes.CELL_MARGIN)
  np.testing.assert_allclose(poses[:, 2], mazes.EYE_HEIGHT)
  assert np.all(np.abs(poses[:, 4]) <= mazes.MAX_PITCH)


def test_maze_wall_ahead_appears_where_the_projection_puts_it():
  # In a dead-end corridor facing the end wall 2 units ahead, the wall's top edge is on the row
  # the projection predicts: sky above it, wall below.
  wall = np.ones((mazes.GRID, mazes.GRID), bool)
  wall[2:5, 4] = False  # a corridor of floor blocks: x in [-2.5, 0.5], y in [-0.5, 0.5]
  params = {"wall": wall, "block_color": np.full((mazes.GRID, mazes.GRID, 3), 0.8, np.float32),
            "floor_tones": np.full((2, 3), 0.3, np.float32)}
  pose = np.array([[-1.5, 0.0, mazes.EYE_HEIGHT, 0.0, 0.0]], np.float32)
  size = mazes.FRAME_SIZE
  frame = np.asarray(jax.jit(functools.partial(mazes.render, frame_size=size))(params, pose))[0]
  top, _ = camera.project_points([[0.5, 0.0, mazes.WALL_HEIGHT]], pose[0], size,
                                 mazes.FOV_DEGREES)
  centre_column = frame[:, size // 2] / 255
  is_sky = np.all(np.abs(centre_column - np.array(mazes.SKY_COLOR)) < 0.02, -1)
  last_sky_row = np.nonzero(is_sky)[0].max()
  assert is_sky[:last_sky_row + 1].all() and not is_sky[last_sky_row + 1:].any()
  assert abs(last_sky_row + 0.5 - top[0, 0]) <= 1.0, (last_sky_row, top)


@functools.cache
def _jit(function):
  return jax.jit(function)  # one compilation per primitive kind, not one per test case


def _one_ray(origin, direction):
  direction = np.asarray(direction, np.float32)
  return (np.asarray([origin], np.float32), (direction / np.linalg.norm(direction))[None])


@pytest.mark.parametrize("shape, origin, direction, t, normal", [
    ("sphere", (5, 0, 0), (-1, 0, 0), 4.0, (1, 0, 0)),
    ("sphere", (0, 0, -3), (0, 0, 1), 2.0, (0, 0, -1)),
    ("cylinder", (5, 0, 1), (-1, 0, 0), 4.0, (1, 0, 0)),
    ("cylinder", (0.5, 0, 5), (0, 0, -1), 3.0, (0, 0, 1)),
    ("cylinder", (0.5, 0, -4), (0, 0, 1), 4.0, (0, 0, -1)),
    ("cone", (5, 0, 1), (-1, 0, 0), 4.5, (2 / np.sqrt(5), 0, 1 / np.sqrt(5))),
    ("cone", (0.2, 0, -4), (0, 0, 1), 4.0, (0, 0, -1)),
    ("box", (5 / np.sqrt(2), 5 / np.sqrt(2), 0), (-1, -1, 0), 4.0, (0.5**0.5, 0.5**0.5, 0)),
    ("box", (0, 0, 5), (0, 0, -1), 4.0, (0, 0, 1)),
    ("sphere", (5, 0, 0), (1, 0, 0), np.inf, None),  # facing away
    ("cone", (5, 0, 2.5), (-1, 0, 0), np.inf, None),  # passes over the apex
])
def test_primitive_hits_match_hand_computed_distances_and_normals(shape, origin, direction, t,
                                                                  normal):
  # Unit sphere at the origin; cylinder and cone of radius 1, height 2 standing on the origin;
  # a 2 x 2 x 2 box centred at the origin turned by 45 degrees.
  origins, directions = _one_ray(origin, direction)
  color, valid = np.ones((1, 3), np.float32), np.array([True])
  at_origin, one = np.zeros((1, 3), np.float32), np.array([1.0], np.float32)
  hit = {
      "sphere": lambda: _jit(raycast.intersect_spheres)(origins, directions, at_origin, one,
                                                        color, valid),
      "cylinder": lambda: _jit(raycast.intersect_cylinders)(origins, directions, at_origin, one,
                                                            2 * one, color, valid),
      "cone": lambda: _jit(raycast.intersect_cones)(origins, directions, at_origin, one, 2 * one,
                                                    color, valid),
      "box": lambda: _jit(raycast.intersect_boxes)(origins, directions, at_origin,
                                                   np.ones((1, 3), np.float32), np.pi / 4 * one,
                                                   color, valid),
  }[shape]()
  np.testing.assert_allclose(float(hit.t[0]), t, rtol=1e-5)
  if normal is not None:
    np.testing.assert_allclose(np.asarray(hit.normal[0]), normal, atol=1e-5)


def test_invalid_primitives_are_never_hit():
  origins, directions = _one_ray((5, 0, 0), (-1, 0, 0))
  hit = _jit(raycast.intersect_spheres)(origins, directions, np.zeros((2, 3), np.float32),
                                        np.ones(2, np.float32), np.ones((2, 3), np.float32),
                                        np.array([False, False]))
  assert np.isinf(float(hit.t[0]))


def test_room_floor_is_lit_by_lambert_and_shadowed_behind_an_object():
  # A ball of radius 0.3 resting at the origin; light from the -x side, elevation atan(1/2). Its
  # shadow on the floor is an ellipse centred at (0.6, 0) with semi-axes 0.67 (x) and 0.3 (y).
  light = np.array([-2.0, 0.0, 1.0]) / np.sqrt(5)
  params = {
      "shape": np.array([rooms.SPHERE, 0, 0], np.int32),
      "position": np.zeros((3, 3), np.float32),
      "size": np.array([0.3, 1, 1], np.float32),
      "height": np.array([1.0, 1, 1], np.float32),
      "yaw": np.zeros(3, np.float32),
      "color": np.ones((3, 3), np.float32),
      "valid": np.array([True, False, False]),
      "wall_color": np.array([0.5, 0.5, 0.5], np.float32),
      "floor_color": np.array([0.8, 0.8, 0.8], np.float32),
      "light": light.astype(np.float32),
  }
  pose = np.array([0.0, 0.0, 2.9, 0.0, -np.pi / 2], np.float32)  # looking straight down
  frame = np.asarray(jax.jit(functools.partial(rooms.render, frame_size=SIZE))(params,
                                                                              pose[None]))[0]
  # Both points lie in the same floor tile, [0, 1] x [0, 1], so share its colour.
  points = np.array([[0.8, 0.1, 0.0], [0.8, 0.7, 0.0]])
  pixels, _ = camera.project_points(points, pose, SIZE, rooms.FOV_DEGREES)
  shadowed, lit = (frame[int(round(r)), int(round(c))].astype(float) for r, c in pixels)
  tile = 0.8 * 255  # tiles of even parity keep the floor colour
  cosine = light[2]  # the floor's normal is +z
  np.testing.assert_allclose(shadowed, tile * rooms.AMBIENT, atol=1.0)
  np.testing.assert_allclose(lit, tile * (rooms.AMBIENT + (1 - rooms.AMBIENT) * cosine), atol=1.0)
