"""Training config files: finding one, loading it, and the argument after its ':'.

A config file (the checkout's `configs/` folder) is Python defining `get_config(arg=None)`, which
returns an ml_collections.ConfigDict of data. It is named 'path/to/file.py[:arg]', as in
`python -m gqn_jax.main --config=configs/rooms.py:small`:

- `find(path)`: the file, relative to the current folder, then to the checkout; otherwise a
  ConfigFileError that says where it looked, names close matches and shows the right form;
- `load(spec)`: the ConfigDict of 'file.py[:arg]' (what tests, notebooks and benchmarks call);
- `sibling(config_file, name)`: another file of the same folder as a module (how every dataset
  file reads `configs/default.py`, Table S1, whichever folder the command runs from);
- `parse_arg` / `apply_overrides`: a size preset and a dataset variant from the ':arg' string;
- `resolve_argv(argv)`: a command line's --config found from any folder, before heavy imports.

This module imports nothing heavy, so that reading a config stays cheap.
"""

import difflib
import importlib.util
import os
import pathlib

from gqn_jax.runtime import errors

# The folder that holds gqn_jax/ and configs/ in a checkout (or an editable install), so that
# 'configs/rooms.py' is found from notebooks/ and benchmarks/ too.
REPO_DIR = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = "configs/rooms.py:small"


class ConfigFileError(errors.ProjectError, FileNotFoundError):
  """The config file named on the command line or in code does not exist."""


def candidates(path):
  """Where `path` may be: as given (relative to the current folder), then under the checkout."""
  places = [pathlib.Path(path)]
  if not os.path.isabs(path):
    places.append(REPO_DIR / path)
  return places


def _close_matches(path):
  """The 'configs/<name>.py' spelling nearest to `path`, if one is near, from the config folders
  it could mean."""
  folders = {p.parent for p in candidates(path) if p.parent.is_dir()}
  folders.add(REPO_DIR / "configs")
  known = {}
  for folder in folders:
    for file in folder.glob("*.py") if folder.is_dir() else ():
      shown = f"{os.path.basename(os.path.normpath(folder))}/{file.name}"
      known.setdefault(shown, file)
  wanted = "/".join(pathlib.Path(path).parts[-2:])
  return difflib.get_close_matches(wanted, sorted(known), n=1, cutoff=0.6)


def find(path):
  """The pathlib.Path of config file `path` (no ':arg'), or ConfigFileError."""
  places = candidates(path)
  for place in places:
    if place.is_file():
      return place
  looked = " and ".join(dict.fromkeys(str(place.resolve()) for place in places))
  matches = _close_matches(path)
  hint = f" Did you mean {matches[0]}?" if matches else ""
  raise ConfigFileError(
      f"no config file {path!r} (looked for {looked}).{hint} Name a file of the repository's "
      f"configs/ folder from its root, optionally with ':<arg>' (e.g. --config={EXAMPLE}), "
      "or give an absolute path.")


def _load_module(file):
  spec = importlib.util.spec_from_file_location(f"gqn_jax_config_file_{file.stem}", file)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def load(spec):
  """The ConfigDict of `spec`, 'path/to/config.py[:arg]', as its `get_config(arg)` returns it."""
  path, _, arg = str(spec).partition(":")
  module = _load_module(find(path))
  if not hasattr(module, "get_config"):
    raise ValueError(f"{path} defines no get_config(arg): it is not a training config (the "
                     f"dataset files, e.g. {EXAMPLE}, are)")
  return module.get_config(arg or None)


def sibling(config_file, name):
  """The module `name`.py beside `config_file` (a config file's own __file__)."""
  return _load_module(pathlib.Path(config_file).resolve().with_name(f"{name}.py"))


def parse_arg(arg, variants, sizes):
  """Splits a config arg like 'small' or '7_parts,tiny' into (variant, size).

  Args:
    arg: the string after ':' in `--config=configs/x.py:arg`, or None.
    variants: the dataset variants the config file knows, the first one the default.
    sizes: the size presets' names; the first one is the default.

  Returns:
    (variant, size).
  """
  variant, size = variants[0], next(iter(sizes))
  for word in filter(None, (arg or "").split(",")):
    word = word.strip()
    if word in sizes:
      size = word
    elif word in variants:
      variant = word
    else:
      raise ValueError(
          f"unknown config arg {word!r}; expected a size in {sorted(sizes)} and/or a "
          f"variant in {list(variants)}, comma-separated (e.g. '{variants[-1]},small')")
  return variant, size


def apply_overrides(config, overrides):
  """Sets each {"section.key": value} of `overrides` on `config` (existing keys only)."""
  for dotted, value in overrides.items():
    section, key = dotted.split(".")
    if key not in config[section]:
      raise KeyError(f"preset key {dotted!r} is not a config key")
    config[section][key] = value
  return config


def resolve_argv(argv):
  """argv with --config's file found (`find`: from here or from the checkout), so that
  `--config=configs/rooms.py` works from any folder; ConfigFileError (saying what was looked for
  and the right form) for a file that is nowhere."""
  argv = list(argv)
  for index, word in enumerate(argv):
    if word.startswith("--config="):
      prefix, value = "--config=", word[len("--config="):]
    elif word == "--config" and index + 1 < len(argv):
      index, prefix, value = index + 1, "", argv[index + 1]
    else:
      continue
    path, colon, arg = value.partition(":")
    found = find(path)
    if not os.path.isfile(path):  # found under the checkout, not from here
      argv[index] = f"{prefix}{found}{colon}{arg}"
  return argv
