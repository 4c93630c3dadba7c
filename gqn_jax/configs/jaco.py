"""The Jaco robot arm (11 views per scene): `--config=gqn_jax/configs/jaco.py[:small|:tiny]`."""

from gqn_jax.configs import default


def get_config(arg=None):
  _, size = default.parse_arg(arg, ("jaco",))
  config = default.paper_config("jaco", image_size=64, max_context=5)
  return default.finish(config, size)
