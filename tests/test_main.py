"""`python -m gqn_jax.main` ends a finished run with a report: evaluation against the baselines and
pictures, written into the workdir, their paths in the log."""

import json
import logging
import os
import subprocess
import sys

from gqn_jax.runtime import console


def test_a_finished_run_writes_its_evaluation_and_pictures(tmp_path, procedural_cache, repo_dir):
  workdir = tmp_path / "run"
  environment = {k: v for k, v in os.environ.items() if k != console.LIBRARY_LOGS_ENV}
  result = subprocess.run(
      [sys.executable, "-m", "gqn_jax.main", "--config=configs/rooms.py:tiny",
       f"--config.data.root={tmp_path / 'no_deepmind_data'}",  # source 'auto': the banner
       f"--config.data.procedural_cache={procedural_cache}",
       "--config.train.num_steps=2", "--report_scenes=3", f"--workdir={workdir}"],
      capture_output=True, text=True, check=False, cwd=repo_dir, timeout=600, env=environment)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(workdir / "evaluation.json", encoding="utf-8") as f:
    evaluation = json.load(f)
  assert evaluation["num_scenes"] == 3 and evaluation["step"] == 2
  assert set(evaluation["baselines"]) == {"mean_image", "background"}
  for name in ("evaluation.png", "render.png", "render.gif"):
    assert os.path.getsize(workdir / name) > 0, name
  assert f"wrote {workdir}/evaluation.json" in result.stderr
  assert "mean training image" in result.stderr
  # The console: the project's own lines, the data banner once, no library chatter.
  assert "step 2/2" in result.stderr
  assert "evaluate: scenes 3/3" in result.stderr  # progress of the report's evaluation
  assert result.stderr.count("NO DEEPMIND DATA") == 1
  for chatter in ("CheckpointManager", "checkpoint_manager.py", "Unable to initialize backend",
                  "oneDNN"):
    assert chatter not in result.stderr, chatter


def _record(level, pathname):
  return logging.LogRecord("absl", level, pathname, 1, "message", None, None)


def test_library_info_lines_are_dropped_and_warnings_kept():
  keep = console.OwnLinesFilter().filter
  library = "/site-packages/orbax/checkpoint/checkpoint_manager.py"
  assert not keep(_record(logging.INFO, library))
  assert keep(_record(logging.WARNING, library))
  package_dir = os.path.dirname(os.path.dirname(console.__file__))  # gqn_jax/runtime/..
  assert keep(_record(logging.INFO, os.path.join(package_dir, "main.py")))
  assert keep(_record(logging.INFO, os.path.join(package_dir, "training", "train.py")))


def test_progress_lines_are_spaced_in_time_and_show_the_eta(monkeypatch):
  lines = []
  monkeypatch.setattr(console, "_log_info", lines.append)
  now = [100.0]
  progress = console.Progress("evaluate: scenes", total=100, every_s=10.0, clock=lambda: now[0])
  now[0] = 105.0
  assert progress.update(10) is None  # 5 s: too soon for a line
  now[0] = 110.0
  assert progress.update(20) == "evaluate: scenes 20/100  2.0/s  ETA 40s"
  now[0] = 112.0
  assert progress.update(25) is None
  now[0] = 150.0
  assert progress.finish(100) == "evaluate: scenes 100/100  2.0/s  done in 50s"
  assert lines == ["evaluate: scenes 20/100  2.0/s  ETA 40s",
                   "evaluate: scenes 100/100  2.0/s  done in 50s"]
  unknown = console.Progress("render: frames", total=None, every_s=0.0, clock=lambda: now[0])
  now[0] = 160.0
  assert unknown.update(5) == "render: frames 5  0.5/s"
