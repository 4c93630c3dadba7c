"""ShapeNet renderings in the SRN layout (cars, chairs, ...), read in place:
`--config=configs/srn.py[:small|:tiny] --config.data.root=DIR` (gqn_jax.data.srn says what DIR
holds; --config.data.name picks a <name> when DIR holds several).
"""

from gqn_jax.runs import config_files

default = config_files.sibling(__file__, "default")


def get_config(arg=None):
  _, size = config_files.parse_arg(arg, ("srn",), default.SIZE_PRESETS)
  config = default.paper_config("srn", image_size=64, max_context=5)
  config = config_files.apply_overrides(config, default.SIZE_PRESETS[size])
  config.data.source = "srn"
  config.data.root = ""  # the folder holding <name>_train and <name>_test: give it
  return config
