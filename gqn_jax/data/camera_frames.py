"""Camera-to-world matrices -> GQN viewpoints (x, y, z, yaw, pitch): every camera convention is
converted here, and nowhere else.

Multi-view datasets store each view's camera as a 4x4 camera-to-world matrix [R | t]: t is the
camera centre, the columns of R the camera's axes in world coordinates. Which column points where
is the layout's camera convention:

  convention  x       y       z         used by
  'opencv'    right   down    forward   SRN ShapeNet (pose/*.txt), COLMAP
  'opengl'    right   up      backward  NeRF-style transforms.json (Blender, instant-ngp)

The GQN viewpoint (gqn_jax.scenes.camera) lives in a z-up world with no roll. The world's up axis
is read from the data (`find_up_axis`: the signed world axis nearest the cameras' mean up
vector; y-up and z-up worlds both occur), and `up_rotation` turns that axis into +z. Then

  yaw   = atan2(forward_y, forward_x)   (0 looks along +x, pi/2 along +y)
  pitch = asin(forward_z)               (positive looks up)
  roll  = atan2(right_z, up_z)          (0 when the image's right edge is level)

A camera with roll has no yaw/pitch form: `check_roll` refuses more than ROLL_TOLERANCE_DEG,
naming the file and the angle.
"""

import numpy as np

from gqn_jax.runtime import errors

# column of R -> (axis name, sign) of the camera's right, up and forward directions
CONVENTIONS = {
    "opencv": {"right": (0, 1.0), "up": (1, -1.0), "forward": (2, 1.0)},
    "opengl": {"right": (0, 1.0), "up": (1, 1.0), "forward": (2, -1.0)},
}
ROLL_TOLERANCE_DEG = 1.0  # below this a roll is ignored (exporters leave ~1e-6 of noise)
RIGID_TOLERANCE = 1e-3  # |R^T R - I| and |det R - 1|: poses written with 4-6 decimals pass
# The cameras' mean up vector must lean this much towards one world axis (cos of the angle):
# a dataset whose cameras roll every way has no up axis to read.
UP_AXIS_MIN_COSINE = 0.5
_AXIS_NAMES = "xyz"


class PoseError(errors.ProjectError, ValueError):
  """A camera pose that cannot be turned into a GQN viewpoint; the message names the file."""


def check_matrix(matrix, where):
  """`matrix` as a float64 [4, 4] rigid camera-to-world transform; PoseError naming `where`."""
  matrix = np.asarray(matrix, np.float64)
  if matrix.shape != (4, 4):
    raise PoseError(f"{where}: a camera pose must be a 4x4 matrix (16 numbers); got "
                    f"{matrix.size} numbers")
  if not np.all(np.isfinite(matrix)):
    raise PoseError(f"{where}: the camera pose holds NaN or infinite numbers; re-export it")
  rotation = matrix[:3, :3]
  off_rigid = max(float(np.abs(rotation.T @ rotation - np.eye(3)).max()),
                  abs(float(np.linalg.det(rotation)) - 1.0),
                  float(np.abs(matrix[3] - [0, 0, 0, 1]).max()))
  if off_rigid > RIGID_TOLERANCE:
    raise PoseError(
        f"{where}: the camera pose is not a rigid camera-to-world transform (its rotation part "
        f"is off orthonormal or has a reflection or scale by {off_rigid:.3g}; last row "
        f"{matrix[3].tolist()}): each pose must be [R t; 0 0 0 1] with R a rotation. Remove the "
        "camera's scale in the exporter, or check that the file holds camera-to-world, not a "
        "projection matrix")
  return matrix


def camera_axes(matrices_Nx4x4, convention):
  """(right, up, forward, position), each [N, 3] in world coordinates, of camera-to-world
  matrices in `convention` ('opencv' or 'opengl')."""
  if convention not in CONVENTIONS:
    raise ValueError(f"unknown camera convention {convention!r}; known: {sorted(CONVENTIONS)}")
  matrices = np.asarray(matrices_Nx4x4, np.float64)
  axes = {name: sign * matrices[:, :3, column]
          for name, (column, sign) in CONVENTIONS[convention].items()}
  return axes["right"], axes["up"], axes["forward"], matrices[:, :3, 3]


def find_up_axis(up_vectors_Nx3, where):
  """(axis index, sign) of the world axis the cameras' up vectors [N, 3] lean towards."""
  mean = np.asarray(up_vectors_Nx3, np.float64).mean(axis=0)
  norm = float(np.linalg.norm(mean))
  axis = int(np.argmax(np.abs(mean)))
  if norm == 0 or abs(mean[axis]) / norm < UP_AXIS_MIN_COSINE or norm < UP_AXIS_MIN_COSINE:
    raise PoseError(
        f"{where}: the cameras' up vectors agree on no world axis (their mean is "
        f"{np.round(mean, 3).tolist()}), so the world's up axis cannot be read from the data; "
        "a GQN viewpoint needs cameras held upright (no roll) in one world")
  return axis, float(np.sign(mean[axis]))


def up_axis_name(axis, sign):
  return f"{'+' if sign > 0 else '-'}{_AXIS_NAMES[axis]}"


def up_rotation(axis, sign):
  """[3, 3] rotation W of the world with W @ (sign * e_axis) = +z (right-handed: det W = 1)."""
  new_z = np.zeros(3)
  new_z[axis] = sign
  new_x = np.zeros(3)
  new_x[(axis + 1) % 3] = 1.0
  new_y = np.cross(new_z, new_x)
  return np.stack([new_x, new_y, new_z])


def viewpoints(matrices_Nx4x4, convention, rotation_3x3):
  """GQN poses [N, 5] (x, y, z, yaw, pitch) and roll angles [N] in degrees of cameras given as
  camera-to-world matrices in `convention`, in the world turned by `rotation_3x3` (z up)."""
  right, up, forward, position = (vectors @ rotation_3x3.T
                                  for vectors in camera_axes(matrices_Nx4x4, convention))
  yaw = np.arctan2(forward[:, 1], forward[:, 0])
  pitch = np.arcsin(np.clip(forward[:, 2], -1.0, 1.0))
  roll_deg = np.degrees(np.arctan2(right[:, 2], up[:, 2]))
  poses = np.concatenate([position, yaw[:, None], pitch[:, None]], axis=-1)
  return poses, roll_deg


def check_roll(roll_deg_N, pitch_N, names):
  """PoseError naming the first view (from `names`) that rolls by more than ROLL_TOLERANCE_DEG
  or looks straight along the up axis (where yaw and roll are undefined)."""
  straight = np.abs(np.degrees(pitch_N)) > 90.0 - ROLL_TOLERANCE_DEG
  if np.any(straight):
    index = int(np.argmax(straight))
    raise PoseError(
        f"{names[index]}: the camera looks straight {'up' if pitch_N[index] > 0 else 'down'} "
        "the world's up axis, where a GQN viewpoint (yaw, pitch, no roll) has no yaw; leave such "
        "views out")
  rolled = np.abs(roll_deg_N) > ROLL_TOLERANCE_DEG
  if np.any(rolled):
    index = int(np.argmax(rolled))
    raise PoseError(
        f"{names[index]}: the camera is rolled by {roll_deg_N[index]:.2f} degrees about its "
        f"viewing direction ({int(rolled.sum())} of {len(rolled)} views of this scene roll more "
        f"than {ROLL_TOLERANCE_DEG} degree); a GQN viewpoint is (position, yaw, pitch) with the "
        "image's right edge level. Re-render with upright cameras, or check the layout's camera "
        "convention (SRN: OpenCV axes; transforms.json: OpenGL axes)")


def camera_to_world(poses_Nx5, convention):
  """4x4 camera-to-world matrices [N, 4, 4] in `convention` of GQN poses (z-up world, no roll):
  the inverse of `viewpoints` with the identity rotation."""
  poses = np.asarray(poses_Nx5, np.float64).reshape(-1, 5)
  yaw, pitch = poses[:, 3], poses[:, 4]
  forward = np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)], -1)
  right = np.stack([np.sin(yaw), -np.cos(yaw), np.zeros_like(yaw)], -1)
  up = np.cross(right, forward)
  vectors = {"right": right, "up": up, "forward": forward}
  matrices = np.tile(np.eye(4), (len(poses), 1, 1))
  for name, (column, sign) in CONVENTIONS[convention].items():
    matrices[:, :3, column] = sign * vectors[name]
  matrices[:, :3, 3] = poses[:, :3]
  return matrices
