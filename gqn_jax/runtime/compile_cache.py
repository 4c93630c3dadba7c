"""JAX's persistent compilation cache, on by default for the command lines.

What it stores: one file per compiled XLA program (the training update, the state check, the
evaluation step, initialisation, the report's samplers...), keyed by a hash of the program, its
shapes and shardings, the jax/jaxlib version, the backend and the XLA flags; the file holds the
serialized executable. A second run of the same config and device count reads them instead of
compiling: on CPU (XLA:CPU serializes its executables), GPU and TPU alike. A change of any of
those inputs is a new key, never a wrong program; entries are not removed (delete the folder to
reclaim the space: a few MB per small config, more for the paper model).
With several processes (jax 0.10.2 on CPU), only the first one reads the cache; the others
compile (sharing binaries between processes, `jax_share_binary_between_hosts`, deadlocked there).

Where: `--compilation_cache=DIR` on the command lines, else $GQN_JAX_COMPILATION_CACHE, else
$XDG_CACHE_HOME/gqn_jax/jax_compilation_cache (~/.cache/... by default); 'off' in either place
turns it off. Programs that compile in under MIN_COMPILE_SECONDS are not written: reading a file
costs about as much as compiling them.
"""

import os

ENV = "GQN_JAX_COMPILATION_CACHE"
OFF = ("off", "0", "false", "none", "")
MIN_COMPILE_SECONDS = 0.2
# JAX records a hit per program read, and its 'cache_misses' per program written.
_EVENTS = {"/jax/compilation_cache/cache_hits": "read",
           "/jax/compilation_cache/cache_misses": "written"}
_counts = {"read": 0, "written": 0}


def define_flag():
  """--compilation_cache, for a command line's module level; pass its value to `setup`."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  return flags.DEFINE_string(
      "compilation_cache", None, "Folder of JAX's persistent compilation cache, so that a "
      "second run of the same config reads its compiled programs instead of compiling them; "
      f"'off' turns it off. Default: ${ENV}, else {default_dir()}.")


def setup(flag_value):
  """enable(chosen_dir(flag_value)), with one log line saying where (or that it is off)."""
  from absl import logging  # pylint: disable=g-import-not-at-top
  directory = enable(chosen_dir(flag_value))
  logging.info("compilation cache: %s", directory or f"off ({ENV} or --compilation_cache)")
  return directory


def default_dir():
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "gqn_jax", "jax_compilation_cache")


def chosen_dir(flag_value=None):
  """The cache folder: the flag's value, else $GQN_JAX_COMPILATION_CACHE, else default_dir();
  None when the chosen value is 'off'."""
  value = flag_value if flag_value is not None else os.environ.get(ENV)
  if value is None:
    return default_dir()
  return None if value.strip().lower() in OFF else os.path.expanduser(value)


def enable(directory):
  """Points JAX's persistent cache at `directory` (made if missing); None leaves it off.
  Call before the first compile."""
  import jax  # pylint: disable=g-import-not-at-top
  if directory is None:
    return None
  os.makedirs(directory, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", directory)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
  _count_events()
  return directory


def _count_events():
  import jax  # pylint: disable=g-import-not-at-top

  def listener(event, **_):
    if event in _EVENTS:
      _counts[_EVENTS[event]] += 1

  if not getattr(_count_events, "registered", False):
    jax.monitoring.register_event_listener(listener)
    _count_events.registered = True


def counts():
  """{'read': programs read from the cache, 'written': programs compiled and added to it} in
  this process so far."""
  return dict(_counts)
