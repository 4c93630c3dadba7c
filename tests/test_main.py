"""`python -m gqn_jax.main` ends a finished run with a report: evaluation against the baselines and
pictures, written into the workdir, their paths in the log."""

import json
import os
import subprocess
import sys


def test_a_finished_run_writes_its_evaluation_and_pictures(tmp_path, procedural_cache, repo_dir):
  workdir = tmp_path / "run"
  result = subprocess.run(
      [sys.executable, "-m", "gqn_jax.main", "--config=configs/rooms.py:tiny",
       "--config.data.source=procedural", f"--config.data.procedural_cache={procedural_cache}",
       "--config.train.num_steps=2", "--report_scenes=3", f"--workdir={workdir}"],
      capture_output=True, text=True, check=False, cwd=repo_dir, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(workdir / "evaluation.json", encoding="utf-8") as f:
    evaluation = json.load(f)
  assert evaluation["num_scenes"] == 3 and evaluation["step"] == 2
  assert set(evaluation["baselines"]) == {"mean_image", "background"}
  for name in ("evaluation.png", "render.png", "render.gif"):
    assert os.path.getsize(workdir / name) > 0, name
  assert f"wrote {workdir}/evaluation.json" in result.stderr
  assert "mean training image" in result.stderr
