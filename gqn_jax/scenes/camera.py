"""Pinhole cameras for the procedural scenes: pose -> rays, projection, and camera placements.

Conventions (the same for every procedural dataset; docs/scenes.md repeats them):
- World axes are right-handed with **z up**; x and y span the ground plane. Units are arbitrary
  scene units (a Shepard-Metzler cube is 1 unit wide, a room is 7 x 7 units, a maze cell 1 unit).
- A pose is (x, y, z, yaw, pitch): the camera centre and its viewing direction, angles in radians.
  yaw is the angle of the view direction about +z, measured from +x towards +y (yaw = 0 looks
  along +x, yaw = pi/2 along +y); pitch is the elevation of the view direction above the ground
  plane (positive looks up, negative looks down). There is no roll: the image's up vector is the
  world's +z projected into the image plane.
- Images are square, row 0 at the top, column 0 at the left, with a symmetric field of view
  `fov_degrees` both across and down the image.
"""

import numpy as np
import jax.numpy as jnp


def view_direction(yaw, pitch, xp=jnp):
  """Unit viewing direction [..., 3] for yaw and pitch [...]."""
  cos_pitch = xp.cos(pitch)
  return xp.stack(
      [cos_pitch * xp.cos(yaw), cos_pitch * xp.sin(yaw), xp.sin(pitch)], axis=-1)


def camera_basis(yaw, pitch, xp=jnp):
  """(forward, right, up) unit vectors, each [..., 3], of cameras with the given yaw and pitch."""
  forward = view_direction(yaw, pitch, xp)
  zeros = xp.zeros_like(yaw)
  right = xp.stack([xp.sin(yaw), -xp.cos(yaw), zeros], axis=-1)
  sin_pitch = xp.sin(pitch)
  up = xp.stack([-sin_pitch * xp.cos(yaw), -sin_pitch * xp.sin(yaw), xp.cos(pitch)], axis=-1)
  return forward, right, up


def pixel_offsets(frame_size, fov_degrees):
  """Image-plane coordinates (u right, v up) [H, W] of the pixel centres at unit depth."""
  half_extent = np.tan(np.radians(fov_degrees) / 2)
  centres = (np.arange(frame_size) + 0.5) / frame_size * 2 - 1  # [W] in (-1, 1)
  u_HxW = np.broadcast_to(centres[None, :] * half_extent, (frame_size, frame_size))
  v_HxW = np.broadcast_to(-centres[:, None] * half_extent, (frame_size, frame_size))
  return u_HxW.astype(np.float32), v_HxW.astype(np.float32)


def camera_rays(poses_Sx5, frame_size, fov_degrees):
  """Ray origins and unit directions, each [S, H, W, 3], for S raw poses."""
  poses_Sx5 = jnp.asarray(poses_Sx5, jnp.float32)
  forward, right, up = camera_basis(poses_Sx5[:, 3], poses_Sx5[:, 4])  # [S, 3] each
  u_HxW, v_HxW = pixel_offsets(frame_size, fov_degrees)
  directions = (forward[:, None, None, :] + u_HxW[None, :, :, None] * right[:, None, None, :] +
                v_HxW[None, :, :, None] * up[:, None, None, :])
  directions = directions / jnp.linalg.norm(directions, axis=-1, keepdims=True)
  origins = jnp.broadcast_to(poses_Sx5[:, None, None, :3], directions.shape)
  return origins, directions


def project_points(points_Nx3, pose_5, frame_size, fov_degrees):
  """Pixel coordinates (row, col) [N, 2] and depth [N] of world points seen from one pose.

  Row and column are continuous with pixel centres at integers; NumPy, for checks and tests.
  """
  points_Nx3 = np.asarray(points_Nx3, np.float64)
  pose_5 = np.asarray(pose_5, np.float64)
  forward, right, up = camera_basis(pose_5[3], pose_5[4], xp=np)
  relative_Nx3 = points_Nx3 - pose_5[:3]
  depth_N = relative_Nx3 @ forward
  half_extent = np.tan(np.radians(fov_degrees) / 2)
  u_N = relative_Nx3 @ right / depth_N / half_extent
  v_N = relative_Nx3 @ up / depth_N / half_extent
  col_N = (u_N + 1) / 2 * frame_size - 0.5
  row_N = (1 - v_N) / 2 * frame_size - 0.5
  return np.stack([row_N, col_N], axis=-1), depth_N


def look_at(position_Nx3, target_Nx3):
  """Raw poses [N, 5] of cameras at `position` looking at `target` (which must differ)."""
  position_Nx3 = np.asarray(position_Nx3, np.float64)
  offset_Nx3 = np.asarray(target_Nx3, np.float64) - position_Nx3
  distance_N = np.linalg.norm(offset_Nx3, axis=-1)
  if np.any(distance_N < 1e-9):
    raise ValueError("look_at needs the camera position and its target to differ")
  yaw_N = np.arctan2(offset_Nx3[:, 1], offset_Nx3[:, 0])
  pitch_N = np.arcsin(np.clip(offset_Nx3[:, 2] / distance_N, -1, 1))
  return np.concatenate([position_Nx3, yaw_N[:, None], pitch_N[:, None]], axis=-1)


def sphere_cameras(rng, num_views, centre_3, radius, max_elevation):
  """Poses [num_views, 5] uniform on a sphere band |elevation| <= max_elevation, facing `centre`.

  Uniform by area: sin(elevation) is uniform. The band keeps cameras off the poles, where a
  camera without roll has no defined up direction.
  """
  azimuth_V = rng.uniform(-np.pi, np.pi, num_views)
  sin_elevation = np.sin(max_elevation)
  elevation_V = np.arcsin(rng.uniform(-sin_elevation, sin_elevation, num_views))
  offsets_Vx3 = radius * view_direction(azimuth_V, elevation_V, xp=np)
  centre_3 = np.asarray(centre_3, np.float64)
  return look_at(centre_3 + offsets_Vx3, np.broadcast_to(centre_3, offsets_Vx3.shape))


def ring_cameras(rng, num_views, radius, height, target_3):
  """Poses [num_views, 5] on a horizontal ring at random azimuths, facing `target`."""
  azimuth_V = rng.uniform(-np.pi, np.pi, num_views)
  positions_Vx3 = np.stack(
      [radius * np.cos(azimuth_V), radius * np.sin(azimuth_V),
       np.full(num_views, float(height))], axis=-1)
  target_3 = np.asarray(target_3, np.float64)
  return look_at(positions_Vx3, np.broadcast_to(target_3, positions_Vx3.shape))
