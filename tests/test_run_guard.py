"""The workdir lock and the config comparison of gqn_jax.training.run_guard, and the default
workdir of `python -m gqn_jax.main` (end-to-end resumes: tests/test_train.py)."""

import json
import os
import socket
import subprocess
import sys

import pytest

from gqn_jax.runs import config_files
from gqn_jax.training import run_guard


def test_a_lock_of_a_process_that_is_gone_is_taken_over(tmp_path):
  gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                        capture_output=True, text=True, check=True)
  (tmp_path / run_guard.LOCK_NAME).write_text(json.dumps(
      {"host": socket.gethostname(), "pid": int(gone.stdout), "start_time": 0}))
  with run_guard.WorkdirLock(tmp_path):
    holder = json.loads((tmp_path / run_guard.LOCK_NAME).read_text())
    assert holder["pid"] == os.getpid()
  assert not (tmp_path / run_guard.LOCK_NAME).exists()


def test_a_live_lock_of_another_host_is_respected(tmp_path):
  (tmp_path / run_guard.LOCK_NAME).write_text(json.dumps(
      {"host": "another-host", "pid": 1, "start_time": 0}))
  with pytest.raises(run_guard.WorkdirLockedError, match="pid 1 on host another-host"):
    with run_guard.WorkdirLock(tmp_path):
      pass
  assert (tmp_path / run_guard.LOCK_NAME).exists()  # not ours: left alone


def test_keys_a_checkpoint_predates_mean_what_leaving_them_out_meant():
  new = {"model": {"image_mean": "linear", "position_scale": 1.0}, "train": {"num_steps": 4}}
  old = {"model": {}, "train": {"num_steps": 4}}
  assert run_guard.config_changes(old, new) == {"model.image_mean": ("sigmoid", "linear")}


def test_the_default_workdir_follows_overrides_but_not_the_run_length():
  path = "configs/shepard_metzler.py:7_parts,small"
  plain = run_guard.default_workdir(path, config_files.load(path))
  assert plain == "/tmp/gqn_jax/shepard_metzler_7_parts_7_parts_small"
  longer = config_files.load(path)
  longer.train.num_steps = 10_000
  assert run_guard.default_workdir(path, longer) == plain
  other_rate = config_files.load(path)
  other_rate.train.lr_initial = 3e-4
  changed = run_guard.default_workdir(path, other_rate)
  assert changed.startswith(plain + "_") and changed != plain
  assert run_guard.default_workdir(path, other_rate) == changed  # the same overrides, the same place
