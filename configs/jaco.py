"""The Jaco robot arm (11 views per scene): `--config=configs/jaco.py[:small|:tiny]`."""

from gqn_jax.runs import config_files

default = config_files.sibling(__file__, "default")


def get_config(arg=None):
  _, size = config_files.parse_arg(arg, ("jaco",), default.SIZE_PRESETS)
  config = default.paper_config("jaco", image_size=64, max_context=5)
  return config_files.apply_overrides(config, default.SIZE_PRESETS[size])
