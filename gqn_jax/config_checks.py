"""Checks a training config before anything is read or compiled, with errors that say what to fix.

Unknown keys are caught earlier, by `lock_config=True` in gqn_jax.main; these checks cover values
and the config handed to `train.train_and_evaluate` directly (tests, notebooks).
"""

import dataclasses
import numbers

from gqn_jax import data_source
from gqn_jax import records

_SECTIONS = ("model", "data", "train")
_POSITIVE_INTS = ("batch_size", "log_every", "checkpoint_every", "eval_every", "eval_batches",
                  "max_checkpoints_to_keep", "lr_anneal_steps", "sigma_anneal_steps")


def check_config(config, device_count):
  """Raises ValueError naming the first bad key/value of `config` for a run on `device_count`
  devices."""
  for section in _SECTIONS:
    if section not in config:
      raise ValueError(
          f"config has no `{section}` section; a training config needs config.model, "
          f"config.data and config.train (see configs/rooms.py)")
  _check_model_keys(config.model)
  records.get_info(config.data.name)  # unknown dataset -> ValueError listing the known ones
  if config.data.source not in data_source.SOURCES:
    raise ValueError(
        f"config.data.source={config.data.source!r} is not one of {data_source.SOURCES}")
  _check_int("config.data.max_context", config.data.max_context, minimum=1)
  _check_int("config.data.image_size", config.data.image_size, minimum=4)
  _check_int("config.data.shuffle_buffer_size", config.data.shuffle_buffer_size, minimum=1)
  _check_int("config.train.num_steps", config.train.num_steps, minimum=0)
  for key in _POSITIVE_INTS:
    _check_int(f"config.train.{key}", config.train[key], minimum=1)
  if config.train.batch_size % device_count:
    raise ValueError(
        f"config.train.batch_size={config.train.batch_size} does not divide evenly over the "
        f"{device_count} devices of this run; set it to a multiple of {device_count}")


def check_context_size(config, root):
  """max_context must leave at least one view of each scene as the query."""
  views = data_source.views_per_scene(root, config.data.name)
  if config.data.max_context >= views:
    raise ValueError(
        f"config.data.max_context={config.data.max_context} but scenes of "
        f"{config.data.name!r} under {root} have only {views} views, and one is the query; set "
        f"config.data.max_context to at most {views - 1}")


def _check_model_keys(model_config):
  from gqn_jax import model as gqn_model  # pylint: disable=g-import-not-at-top
  expected = {f.name for f in dataclasses.fields(gqn_model.GQNConfig)} - {"image_size"}
  given = set(model_config.keys())
  if given != expected:
    raise ValueError(
        f"config.model keys must be exactly GQNConfig's fields minus image_size; unknown: "
        f"{sorted(given - expected)}, missing: {sorted(expected - given)}")


def _check_int(name, value, minimum):
  if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
    raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
