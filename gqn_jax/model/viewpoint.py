"""Camera poses: the raw 5-number form stored on disk and the 7-d encoding the model consumes.

On disk (DeepMind's GQN TFRecords and our procedural scenes) a view's pose is five float32
numbers (x, y, z, yaw, pitch), angles in radians. The networks instead see
(x, y, z, sin yaw, cos yaw, sin pitch, cos pitch), as DeepMind's data reader builds it. This is the
only place that encoding is written down; every public function of the package takes raw poses.
"""

import jax.numpy as jnp

RAW_POSE_SIZE = 5
ENCODED_POSE_SIZE = 7


def encode_viewpoint(cameras_Nx5, position_scale=1.0):
  """Raw poses [..., 5] (x, y, z, yaw, pitch) -> encoded poses [..., 7], the position times
  `position_scale` (GQNConfig.position_scale)."""
  if cameras_Nx5.shape[-1] != RAW_POSE_SIZE:
    raise ValueError(
        f"cameras must end in {RAW_POSE_SIZE} raw numbers (x, y, z, yaw, pitch); got shape "
        f"{tuple(cameras_Nx5.shape)}. Pass the raw poses, not already-encoded ones.")
  position = cameras_Nx5[..., :3] * position_scale
  yaw = cameras_Nx5[..., 3:4]
  pitch = cameras_Nx5[..., 4:5]
  return jnp.concatenate(
      [position, jnp.sin(yaw), jnp.cos(yaw), jnp.sin(pitch), jnp.cos(pitch)], axis=-1)
