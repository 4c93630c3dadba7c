"""Shepard-Metzler objects: `--config=configs/shepard_metzler.py[:7_parts][,small|,tiny]`."""

from gqn_jax.runs import config_files

default = config_files.sibling(__file__, "default")


def get_config(arg=None):
  variant, size = config_files.parse_arg(arg, ("5_parts", "7_parts"), default.SIZE_PRESETS)
  config = default.paper_config(f"shepard_metzler_{variant}", image_size=64, max_context=5)
  return config_files.apply_overrides(config, default.SIZE_PRESETS[size])
