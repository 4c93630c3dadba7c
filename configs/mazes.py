"""The 3D mazes (84x84 frames, 300 views per scene): `--config=configs/mazes.py[:small|:tiny]`."""

from gqn_jax.runs import config_files

default = config_files.sibling(__file__, "default")


def get_config(arg=None):
  _, size = config_files.parse_arg(arg, ("mazes",), default.SIZE_PRESETS)
  config = default.paper_config("mazes", image_size=84, max_context=20)
  # A maze scene is 300 JPEGs (~1 MB): 64 of them keep the iterator checkpoint near 64 MB
  # instead of the ~1 GB a 1024-scene buffer would add to every checkpoint.
  config.data.shuffle_buffer_size = 64
  return config_files.apply_overrides(config, default.SIZE_PRESETS[size])
