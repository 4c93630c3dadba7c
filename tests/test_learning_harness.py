"""benchmarks/learning.py and screen_queue.sh: a tiny screen of two arms, run, scored and compared."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_a_queue_of_two_arms_runs_each_once_and_compares_them(tmp_path, procedural_cache):
  common = ("--config=configs/shepard_metzler.py:7_parts,tiny --steps=4 --num_scenes=4 "
            "--num_samples=2 --set=data.procedural_cache=" + procedural_cache)
  queue = tmp_path / "queue.txt"
  queue.write_text(f"# a comment\nbase {common} --workdir={tmp_path}/wd_base\n"
                   # Scored without training (the base arm's model): the queue and the
                   # comparison are under test here, not a second training run.
                   f"lr {common} --set=train.lr_initial=1e-3 --skip_training "
                   f"--workdir={tmp_path}/wd_base\n")
  out = tmp_path / "out"
  # The arms run with the interpreter running the suite, whatever `python` is first on PATH.
  environment = dict(os.environ, PYTHONPATH=str(REPO), PYTHON=sys.executable)
  result = subprocess.run(["bash", "benchmarks/screen_queue.sh", str(queue), str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=900, env=environment,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.count("start ") == 2 and "exit 0" in result.stdout, result.stdout
  for arm in ("base", "lr"):
    summary = json.loads((out / arm / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["num_samples"] == 2
    assert set(summary["test"]) == {"psnr_db", "minus_mean_image", "minus_0_context",
                                    "object_minus_mean_image"}
    assert summary["train"]["psnr_db"] > 0 and summary["machine"]["cores"] >= 1
    assert [row[0] for row in summary["curve_step_minutes_psnr_loss"]] == [0, 4]
    trained_here = arm == "base"  # the lr arm only scored: it has no minutes of its own
    assert all((row[1] is not None) == trained_here
               for row in summary["curve_step_minutes_psnr_loss"])
    assert (summary["train_wall_seconds"] is not None) == trained_here
    for name in ("evaluation.json", "train/evaluation.json", "curve.png", "grid.png"):
      assert (out / arm / name).exists(), name
  lr = json.loads((out / "lr" / "summary.json").read_text())
  base = json.loads((out / "base" / "summary.json").read_text())
  assert lr["overrides"] == base["overrides"] + ["train.lr_initial=1e-3"]
  again = subprocess.run(["bash", "benchmarks/screen_queue.sh", str(queue), str(out)], cwd=REPO,
                         capture_output=True, text=True, timeout=120, env=environment, check=True)
  assert "start " not in again.stdout  # done arms are not run again
  compared = subprocess.run(
      [sys.executable, "benchmarks/learning.py", "compare", f"--out={tmp_path}/screen.png",
       str(out / "base"), str(out / "lr")], cwd=REPO, capture_output=True, text=True,
      timeout=300, check=True)
  rows = [line for line in compared.stdout.splitlines() if line.startswith("| base") or
          line.startswith("| lr")]
  assert len(rows) == 2 and rows[0].endswith("| +0.00 |")
  assert (tmp_path / "screen.png").stat().st_size > 0


def test_an_arm_timed_on_the_idle_machine_gets_the_steps_its_budget_buys(tmp_path,
                                                                          procedural_cache):
  """`time` writes the arm's idle step time; `run --budget_minutes` turns minutes into steps with
  it (and the sigma anneal into a fraction of them), fixed before training."""
  sys.path.insert(0, str(REPO / "benchmarks"))
  import learning  # pylint: disable=g-import-not-at-top  (a script, not a package)
  out = tmp_path / "arm"
  # The tiny config's own shapes: its programs are in the suite's compilation cache by now.
  learning.time_arm(learning.parse_args(
      ["time", "--config=configs/rooms.py:tiny", f"--out={out}", "--steps=50",
       f"--set=data.procedural_cache={procedural_cache}"]))
  timing = json.loads((out / learning.TIMING_FILE).read_text())
  assert timing["batch_size"] == 4 and timing["steps_timed"] == 50
  assert len(timing["interval_step_seconds"]) == 2 and timing["idle_step_seconds"] > 0
  args = learning.parse_args(["run", "--config=configs/rooms.py:tiny", f"--out={out}",
                              "--budget_minutes=0.5", "--sigma_fraction=0.5"])
  config = learning.arm_config(args)
  expected = int(30 / timing["idle_step_seconds"])
  assert config.train.num_steps == config.train.lr_anneal_steps == expected
  assert config.train.sigma_anneal_steps == round(expected / 2)
  missing = learning.parse_args(["run", "--config=configs/rooms.py:tiny",
                                 f"--out={tmp_path / 'untimed'}", "--budget_minutes=1"])
  with pytest.raises(SystemExit, match="time the arm first"):
    learning.arm_config(missing)
