"""The free-camera rooms: `--config=configs/rooms_free_camera.py[:with_object_rotations][,small]`.

The default variant, no_object_rotations, is 64x64; with_object_rotations is 128x128.
"""

from gqn_jax.runs import config_files

default = config_files.sibling(__file__, "default")

_IMAGE_SIZES = {"no_object_rotations": 64, "with_object_rotations": 128}


def get_config(arg=None):
  variant, size = config_files.parse_arg(arg, tuple(_IMAGE_SIZES), default.SIZE_PRESETS)
  config = default.paper_config(
      f"rooms_free_camera_{variant}", image_size=_IMAGE_SIZES[variant], max_context=5)
  return config_files.apply_overrides(config, default.SIZE_PRESETS[size])
