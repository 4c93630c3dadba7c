"""What the command lines print: gqn_jax's own log lines, and other libraries' only when asked.

Orbax logs about twenty INFO lines per checkpoint, JAX its backend probing, TensorFlow its C++
start-up; between them a run's own progress lines were a minority of the console. `quiet_libraries`
keeps every record at WARNING and above, and INFO records only from gqn_jax's own files (the
package, benchmarks/); GQN_JAX_LIBRARY_LOGS=1 in the environment shows everything again.
"""

import logging
import os

LIBRARY_LOGS_ENV = "GQN_JAX_LIBRARY_LOGS"
_PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OWN_DIRS = tuple(os.path.join(_PROJECT_DIR, name) + os.sep for name in ("gqn_jax", "benchmarks"))

if os.environ.get(LIBRARY_LOGS_ENV) != "1":
  # Read once, when TensorFlow is first imported, which may happen while the command line's
  # config file is loaded: so it is set when this module is imported, before any of that.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class OwnLinesFilter(logging.Filter):
  """Passes warnings and errors, and lower records only when they come from gqn_jax's files."""

  def filter(self, record):
    return record.levelno >= logging.WARNING or os.path.abspath(record.pathname).startswith(
        _OWN_DIRS)


def quiet_libraries():
  """Installs OwnLinesFilter on absl's handler (which every library's Python logging reaches),
  unless GQN_JAX_LIBRARY_LOGS=1. (TensorFlow's C++ start-up lines are kept out on import.)"""
  if os.environ.get(LIBRARY_LOGS_ENV) == "1":
    return
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  handler = absl_logging.get_absl_handler()
  if not any(isinstance(f, OwnLinesFilter) for f in handler.filters):
    handler.addFilter(OwnLinesFilter())
