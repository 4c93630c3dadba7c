"""rooms_ring_camera (Figure 2 of the paper): `--config=configs/rooms.py[:small|:tiny]`."""

from gqn_jax.runs import config_files

default = config_files.sibling(__file__, "default")


def get_config(arg=None):
  _, size = config_files.parse_arg(arg, ("ring_camera",), default.SIZE_PRESETS)
  config = default.paper_config("rooms_ring_camera", image_size=64, max_context=5)
  return config_files.apply_overrides(config, default.SIZE_PRESETS[size])
