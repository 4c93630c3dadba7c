"""What the command lines print: gqn_jax's own log lines, and other libraries' only when asked.

Orbax logs about twenty INFO lines per checkpoint, JAX its backend probing, TensorFlow its C++
start-up; between them a run's own progress lines were a minority of the console. `quiet_libraries`
keeps every record at WARNING and above, and INFO records only from gqn_jax's own files (the
package, benchmarks/); GQN_JAX_LIBRARY_LOGS=1 in the environment shows everything again.
"""

import logging
import os
import time

LIBRARY_LOGS_ENV = "GQN_JAX_LIBRARY_LOGS"
# When the command line started, near enough: this module is among the first a command imports.
_STARTED = time.monotonic()
# The checkout (or installed tree) that holds gqn_jax/ and benchmarks/: gqn_jax/runtime/../..
_PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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


def seconds_since_start():
  """Seconds since the command (more exactly: this module's import) started."""
  return time.monotonic() - _STARTED


class Progress:
  """One log line per `every_s` seconds of a long loop: items done, their rate and the ETA.

    progress = console.Progress("evaluate: scenes", total=100)
    for ...: progress.update(done)   # logs 'evaluate: scenes 32/100  4.1/s  ETA 17s'
    progress.finish(done)            # one last line with the total time

  `total` may be None (an iterator of unknown length): the line then has no ETA. The clock is
  time.monotonic, so that a test can replace it.
  """

  def __init__(self, what, total=None, every_s=10.0, clock=None):
    import time  # pylint: disable=g-import-not-at-top
    self.what, self.total, self.every_s = what, total, every_s
    self.clock = clock or time.monotonic
    self.start = self.last = self.clock()

  def _line(self, done):
    elapsed = self.clock() - self.start
    rate = done / elapsed if elapsed > 0 else float("inf")
    count = f"{done}/{self.total}" if self.total else f"{done}"
    eta = ""
    if self.total and 0 < rate < float("inf"):
      eta = f"  ETA {max(self.total - done, 0) / rate:.0f}s"
    return f"{self.what} {count}  {rate:.1f}/s{eta}", elapsed

  def update(self, done):
    """Logs a line when every_s seconds have passed since the last; returns it or None."""
    if self.clock() - self.last < self.every_s:
      return None
    self.last = self.clock()
    line, _ = self._line(done)
    _log_info(line)
    return line

  def finish(self, done):
    line, elapsed = self._line(done)
    line = f"{line.split('  ETA')[0]}  done in {elapsed:.0f}s"
    _log_info(line)
    return line


def _log_info(line):
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  absl_logging.info(line)
