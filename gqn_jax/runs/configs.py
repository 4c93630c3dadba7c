"""From a loaded config (gqn_jax.runs.config_files.load) to what it describes: checked, then the
model.

`check_config` checks a training config before anything is read or compiled, with errors that
say what to fix (unknown keys are caught earlier, by `lock_config=True` in gqn_jax.main; whether
max_context fits the data is checked where the data is known, gqn_jax.data.reader). `model_config` turns
`config.model` into the typed GQNConfig the model takes, and `build_model` builds the GQN; both
training and the restored-model API use them, so a checkpoint's config rebuilds its model exactly.
"""

import dataclasses
import numbers

from gqn_jax.data import records
from gqn_jax.model import config as gqn_config
from gqn_jax.model import gqn
from gqn_jax.runs import data_source
from gqn_jax.runtime import errors

# What a config saved before a field existed meant by leaving it out (configs made now always hold
# every field): checkpoints of older versions keep rebuilding the model they were trained with.
VALUES_BEFORE_THE_FIELD = {"image_mean": "sigmoid", "position_scale": 1.0}
AUTO = "auto"  # config.model.position_scale: measure the training cameras (runs.camera_scale)


def apply_settings(config, settings):
  """`section.key=value` strings (command-line style) onto `config`, each value parsed as the
  key's current type; a bool must read true/false (or 1/0)."""
  for setting in settings:
    key, _, text = setting.partition("=")
    *sections, name = key.split(".")
    node = config
    for section in sections:
      node = node[section]
    old = node[name]
    if isinstance(old, bool):
      if text.lower() not in ("true", "false", "1", "0"):
        raise ValueError(f"{setting}: {key} is a bool; expected True or False")
      node[name] = text.lower() in ("true", "1")
    else:
      node[name] = type(old)(text)
  return config


def model_config(config):
  """The GQNConfig of a run: config.model's values at config.data.image_size, with
  position_scale='auto' turned into the model's number, 1 / the training cameras' measured
  distance (config.data.camera_distance_rms, filled in by gqn_jax.runs.camera_scale when a run
  starts). The model never sees 'auto'."""
  values = _model_values(config)
  if values.get("position_scale") == AUTO:
    distance = config.data.get("camera_distance_rms")
    if distance is None:
      raise ValueError(
          "config.model.position_scale='auto' needs config.data.camera_distance_rms, which "
          "training measures from the data when a run starts (gqn_jax.runs.camera_scale.resolve)"
          " and stores with the run; resolve it first, or give position_scale a number")
    values["position_scale"] = 1.0 / float(distance)
  return gqn_config.GQNConfig(image_size=config.data.image_size, **values)


def position_scale_is_auto(config):
  """Whether the run measures its cameras to choose the model's position scale."""
  return _model_values(config).get("position_scale") == AUTO


def _model_values(config):
  """{GQNConfig field: value} of config.model as written ('auto' left as it is), with the values
  of fields that older saved configs lack; unknown keys are an error naming them."""
  known = {field.name for field in dataclasses.fields(gqn_config.GQNConfig)} - {"image_size"}
  given = set(config.model.keys())
  if given - known:
    raise ValueError(
        f"config.model has keys GQNConfig does not know; unknown: {sorted(given - known)}; "
        f"known: {sorted(known)}")
  values = {key: value for key, value in VALUES_BEFORE_THE_FIELD.items() if key not in given}
  values.update(config.model.to_dict())
  return values


def _checked_model_config(config):
  """GQNConfig of config.model, every value checked ('auto' checked as the run setting it is)."""
  values = _model_values(config)
  if values.get("position_scale") == AUTO:
    values["position_scale"] = 1.0  # the number comes from the data; here only the rest is checked
  return gqn_config.GQNConfig(image_size=config.data.image_size, **values)


def build_model(config):
  """The GQN module described by config.model at config.data.image_size."""
  return gqn.GQN(model_config(config))


_SECTIONS = ("model", "data", "train")
_POSITIVE_INTS = ("batch_size", "log_every", "checkpoint_every", "eval_every", "eval_batches",
                  "max_checkpoints_to_keep", "lr_anneal_steps", "sigma_anneal_steps")


def check_config(config, device_count):
  """Raises ConfigError (a ValueError) naming the first bad key/value of `config` for a run on
  `device_count` devices."""
  try:
    _check_config(config, device_count)
  except errors.ProjectError:
    raise
  except ValueError as error:
    raise errors.ConfigError(str(error)) from error


def _check_config(config, device_count):
  for section in _SECTIONS:
    if section not in config:
      raise ValueError(
          f"config has no `{section}` section; a training config needs config.model, "
          f"config.data and config.train (see configs/rooms.py)")
  data_source.check_source(config.data.source)
  if config.data.source not in data_source.POSED_SOURCES:  # those take any dataset name
    records.get_info(config.data.name)  # unknown dataset -> ValueError listing the known ones
  elif not str(config.data.root).strip():
    raise ValueError(
        f"config.data.source={config.data.source!r} reads scene files under config.data.root, "
        "which is empty: pass --config.data.root=<the dataset's folder>")
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
  _checked_model_config(config)  # GQNConfig checks every value of config.model
  if config.train.batch_size % device_count:
    raise ValueError(
        f"config.train.batch_size={config.train.batch_size} does not divide evenly over the "
        f"{device_count} devices of this run; set it to a multiple of {device_count}")


def _check_int(name, value, minimum):
  if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
    raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
