"""The project's own errors end a command line as one clear line and an exit status.

An error of the user's config, data, workdir or files is raised as a class that also derives
from `ProjectError`; its message names the file, key or value and says what to do, so a Python
traceback adds nothing but noise. `command_line(program, main)` wraps an absl main: such an error
prints `<program>: <message>` on stderr and exits with EXIT_STATUS; `--verbosity=1` (absl's
flag) or GQN_JAX_TRACEBACKS=1 keeps the traceback. Any other exception (a bug) keeps its
traceback, as Python prints it.
"""

import functools
import os
import sys

EXIT_STATUS = 1
TRACEBACKS_ENV = "GQN_JAX_TRACEBACKS"


class ProjectError(Exception):
  """Mixed into the project's error classes: its message is the whole story for the user."""


class ConfigError(ProjectError, ValueError):
  """A config value or key that cannot be used; the message names it."""


class WorkdirError(ProjectError, OSError):
  """A workdir (or output folder) that cannot be used; the message names it."""


def tracebacks_wanted():
  """Whether the user asked for tracebacks: GQN_JAX_TRACEBACKS=1, or absl's --verbosity >= 1."""
  if os.environ.get(TRACEBACKS_ENV, "").strip() not in ("", "0"):
    return True
  from absl import logging  # pylint: disable=g-import-not-at-top
  return logging.get_verbosity() >= 1


def command_line(program, main):
  """`main` (an absl app's main), with the project's errors turned into one line and exit 1."""

  @functools.wraps(main)
  def wrapped(argv):
    try:
      return main(argv)
    except ProjectError as error:
      if tracebacks_wanted():
        raise
      print(f"{program}: {error}", file=sys.stderr, flush=True)
      sys.exit(EXIT_STATUS)

  return wrapped
