"""rooms_ring_camera (Figure 2 of the paper): `--config=gqn_jax/configs/rooms.py[:small|:tiny]`."""

from gqn_jax.configs import default


def get_config(arg=None):
  _, size = default.parse_arg(arg, ("ring_camera",))
  config = default.paper_config("rooms_ring_camera", image_size=64, max_context=5)
  return default.finish(config, size)
