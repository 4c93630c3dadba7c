"""From a config file to what it describes: `load('configs/rooms.py:tiny')`, then the model.

`load` is the one way Python code (tests, notebooks, benchmarks) reads a config file with its
argument, as `--config=configs/rooms.py:tiny` does on the command line. `model_config` turns
`config.model` into the typed GQNConfig the model takes, and `build_model` builds the GQN; both
training and the restored-model API use them, so a checkpoint's config rebuilds its model exactly.
"""

import dataclasses
import importlib.util
import os
import pathlib

from gqn_jax.model import config as gqn_config
from gqn_jax.model import gqn

# configs/ lives beside the package in a checkout (and in an editable install).
REPO_DIR = pathlib.Path(__file__).resolve().parents[2]


def load(spec):
  """The ConfigDict of `spec`, 'path/to/config.py[:arg]', as `get_config(arg)` returns it.

  A relative path is looked up from the current folder first, then from the repository root, so
  'configs/rooms.py:small' works from notebooks/ and benchmarks/ too.
  """
  path, _, arg = str(spec).partition(":")
  candidates = [pathlib.Path(path)]
  if not os.path.isabs(path):
    candidates.append(REPO_DIR / path)
  found = next((candidate for candidate in candidates if candidate.is_file()), None)
  if found is None:
    raise FileNotFoundError(
        f"no config file {path!r} (looked in {', '.join(str(c.resolve()) for c in candidates)}); "
        "pass a path like configs/rooms.py, optionally with ':<arg>' (e.g. configs/rooms.py:small)")
  module_spec = importlib.util.spec_from_file_location(f"gqn_config_{found.stem}", found)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(arg or None)


# What a config saved before a field existed meant by leaving it out (configs made now always hold
# every field): checkpoints of older versions keep rebuilding the model they were trained with.
VALUES_BEFORE_THE_FIELD = {"image_mean": "sigmoid"}


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
  """The GQNConfig of a run: config.model's values at config.data.image_size."""
  known = {field.name for field in dataclasses.fields(gqn_config.GQNConfig)} - {"image_size"}
  given = set(config.model.keys())
  if given - known:
    raise ValueError(
        f"config.model has keys GQNConfig does not know; unknown: {sorted(given - known)}; "
        f"known: {sorted(known)}")
  values = {key: value for key, value in VALUES_BEFORE_THE_FIELD.items() if key not in given}
  values.update(config.model.to_dict())
  return gqn_config.GQNConfig(image_size=config.data.image_size, **values)


def build_model(config):
  """The GQN module described by config.model at config.data.image_size."""
  return gqn.GQN(model_config(config))
