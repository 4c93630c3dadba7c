"""Shepard-Metzler objects:
`--config=gqn_jax/configs/shepard_metzler.py[:7_parts][,small|,tiny]`."""

from gqn_jax.configs import default


def get_config(arg=None):
  variant, size = default.parse_arg(arg, ("5_parts", "7_parts"))
  config = default.paper_config(
      f"shepard_metzler_{variant}", image_size=64, max_context=5)
  return default.finish(config, size)
