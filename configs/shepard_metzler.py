"""Shepard-Metzler objects: `--config=configs/shepard_metzler.py[:7_parts][,small|,tiny]`."""

from gqn_jax.runs import default_config


def get_config(arg=None):
  variant, size = default_config.parse_arg(arg, ("5_parts", "7_parts"))
  config = default_config.paper_config(
      f"shepard_metzler_{variant}", image_size=64, max_context=5)
  return default_config.finish(config, size)
