"""Scene folders with NeRF-style transforms.json (Blender, instant-ngp, captured and posed):
`--config=configs/scene_folders.py[:small|:tiny] --config.data.root=DIR` (DIR/train/<scene>/ and
DIR/test/<scene>/; gqn_jax.data.scene_folders says what each holds).
"""

from gqn_jax.runs import config_files

default = config_files.sibling(__file__, "default")


def get_config(arg=None):
  _, size = config_files.parse_arg(arg, ("scene_folders",), default.SIZE_PRESETS)
  config = default.paper_config("scene_folders", image_size=64, max_context=5)
  config = config_files.apply_overrides(config, default.SIZE_PRESETS[size])
  config.data.source = "scene_folders"
  config.data.root = ""  # the folder holding train/ and test/: give it
  return config
