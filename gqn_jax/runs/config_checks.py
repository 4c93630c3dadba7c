"""Checks a training config before anything is read or compiled, with errors that say what to fix.

Unknown keys are caught earlier, by `lock_config=True` in gqn_jax.main; these checks cover values
and the config handed to `train.train_and_evaluate` directly (tests, notebooks). Whether
max_context fits the data is checked where the data is known (gqn_jax.data.reader).
"""

import numbers

from gqn_jax.data import records
from gqn_jax.runs import configs
from gqn_jax.runs import data_source

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
  records.get_info(config.data.name)  # unknown dataset -> ValueError listing the known ones
  data_source.check_source(config.data.source)
  _check_int("config.data.max_context", config.data.max_context, minimum=1)
  _check_int("config.data.image_size", config.data.image_size, minimum=4)
  _check_int("config.data.shuffle_buffer_size", config.data.shuffle_buffer_size, minimum=1)
  _check_int("config.train.num_steps", config.train.num_steps, minimum=0)
  for key in _POSITIVE_INTS:
    _check_int(f"config.train.{key}", config.train[key], minimum=1)
  fraction = config.train.get("copy_query_fraction", 0.0)
  if not (isinstance(fraction, numbers.Real) and 0.0 <= fraction <= 1.0):
    raise ValueError(f"config.train.copy_query_fraction must be in [0, 1]; got {fraction!r}")
  _check_int("config.train.copy_query_until_step",
             config.train.get("copy_query_until_step", 0), minimum=0)
  configs.model_config(config)  # GQNConfig checks every value of config.model
  if config.train.batch_size % device_count:
    raise ValueError(
        f"config.train.batch_size={config.train.batch_size} does not divide evenly over the "
        f"{device_count} devices of this run; set it to a multiple of {device_count}")


def _check_int(name, value, minimum):
  if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
    raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
