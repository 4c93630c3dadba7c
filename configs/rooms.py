"""rooms_ring_camera (Figure 2 of the paper): `--config=configs/rooms.py[:small|:tiny]`."""

from gqn_jax.runs import default_config


def get_config(arg=None):
  _, size = default_config.parse_arg(arg, ("ring_camera",))
  config = default_config.paper_config("rooms_ring_camera", image_size=64, max_context=5)
  return default_config.finish(config, size)
