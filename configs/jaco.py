"""The Jaco robot arm (11 views per scene): `--config=configs/jaco.py[:small|:tiny]`."""

from gqn_jax.runs import default_config


def get_config(arg=None):
  _, size = default_config.parse_arg(arg, ("jaco",))
  config = default_config.paper_config("jaco", image_size=64, max_context=5)
  return default_config.finish(config, size)
