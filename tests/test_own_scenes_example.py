"""docs/data.md's worked example on one's own scenes runs as written, at test sizes: the second
renderer writes both layouts, the pose sheet is drawn, the small preset becomes the tiny one, and
training, evaluation and rendering each write what the text says they write."""

import json
import pathlib
import re
import shlex
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
# the example's sizes -> the test's
SMALLER = {"--train=1500 --test=100": "--train=6 --test=4", ":small": ":tiny",
           "--num_scenes=100": "--num_scenes=4", "--num_scenes=6": "--num_scenes=2"}


def example_commands():
  text = (REPO / "docs" / "data.md").read_text(encoding="utf-8")
  section = text[text.index("### A worked example"):]
  block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
  return [line for line in block.splitlines() if line.strip()]


def test_the_worked_example_runs(tmp_path):
  commands = example_commands()
  assert len(commands) == 5
  for command in commands:
    for old, new in SMALLER.items():
      command = command.replace(old, new)
    command = command.replace("/tmp/", f"{tmp_path}/")
    words = shlex.split(command)
    assert words[0] == "python"
    result = subprocess.run([sys.executable, *words[1:]], cwd=REPO, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, (command, result.stderr[-3000:])
  assert (tmp_path / "posed" / "poses.png").stat().st_size > 10_000
  scene_folder = tmp_path / "posed" / "scene_folders" / "test" / "scene_000003"
  assert (scene_folder / "transforms.json").exists()
  workdir = tmp_path / "srn_small"
  scores = json.loads((workdir / "eval8" / "evaluation.json").read_text())
  assert scores["num_samples"] == 8 and scores["num_scenes"] == 4
  assert len(scores["ssim"]) == 4 and set(scores["baselines"]["mean_image"]) >= {"psnr_db", "ssim"}
  for name in ("evaluation.json", "render.png", "grid.png", "grid.gif"):
    assert (workdir / name).stat().st_size > 0, name
