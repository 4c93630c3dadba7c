"""The project's own errors end a command line as one line and exit status 1, without a traceback
(gqn_jax.runtime.errors); bugs keep their traceback."""

import subprocess
import sys

import pytest

from gqn_jax.runtime import errors


def test_a_project_error_is_one_line_and_exit_1(capsys, monkeypatch):
  monkeypatch.delenv(errors.TRACEBACKS_ENV, raising=False)

  def main(argv):
    raise errors.ConfigError("config.train.batch_size must be an integer >= 1; got -4")

  with pytest.raises(SystemExit) as exit_info:
    errors.command_line("gqn_jax.main", main)(["prog"])
  assert exit_info.value.code == errors.EXIT_STATUS == 1
  assert capsys.readouterr().err == (
      "gqn_jax.main: config.train.batch_size must be an integer >= 1; got -4\n")


def test_tracebacks_on_request_and_for_bugs(monkeypatch):
  def config_error(argv):
    raise errors.ConfigError("bad value")

  def bug(argv):
    raise KeyError("a bug")

  with pytest.raises(KeyError):  # not the project's: left to Python, traceback and all
    errors.command_line("gqn_jax.main", bug)(["prog"])
  monkeypatch.setenv(errors.TRACEBACKS_ENV, "1")
  with pytest.raises(errors.ConfigError):
    errors.command_line("gqn_jax.main", config_error)(["prog"])


@pytest.mark.parametrize("flags, expected", [
    (["--config.train.batch_size=-4"], "gqn_jax.main: config.train.batch_size must be an integer"),
    (["--workdir=/proc/version"], "gqn_jax.main: cannot use /proc/version as the training workdir"),
])
def test_the_training_command_line_says_one_line(flags, expected, repo_dir):
  result = subprocess.run(
      [sys.executable, "-m", "gqn_jax.main", "--config=configs/rooms.py:tiny",
       "--config.data.source=stream", "--noreport", *flags],
      capture_output=True, text=True, check=False, cwd=repo_dir, timeout=300)
  assert result.returncode == 1, result.stderr[-2000:]
  assert "Traceback" not in result.stderr, result.stderr[-3000:]
  assert result.stderr.strip().splitlines()[-1].startswith(expected), result.stderr[-1000:]
