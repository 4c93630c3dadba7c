"""A damaged checkpoint is named and skipped, never trusted: the digests recorded once a save has
committed, checked by every restore (gqn_jax.runs.digests, checkpointing.newest_intact)."""

import json
import logging
import pathlib
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from gqn_jax.runs import checkpointing
from gqn_jax.runs import digests
from gqn_jax.trained import export
from gqn_jax.trained import restore
from gqn_jax.training import train


def _copy(workdir, tmp_path, name="copy"):
  target = tmp_path / name
  shutil.copytree(workdir, target)
  return target


def _flip_bytes(path, count=8):
  """Flips `count` bits in the middle of `path`, as a disk or a copy would."""
  data = bytearray(path.read_bytes())
  middle = len(data) // 2
  for index in range(middle, min(middle + count, len(data))):
    data[index] ^= 0x10
  path.write_bytes(bytes(data))


def _largest_file(folder):
  return max((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


# Each kind of file a checkpoint is made of, found in step folder `step`.
KINDS = {
    "array data": lambda step: _largest_file(step / "params"),
    "array metadata": lambda step: step / "params" / "_METADATA",
    "config": lambda step: step / "config" / "metadata",
    "data-iterator state": lambda step: _largest_file(step / "data"),
    "manifest": lambda step: step.parents[1] / digests.DIGEST_DIR / f"{step.name}.json",
}


def test_every_committed_step_has_the_digests_of_its_files(tiny_run_workdir):
  checkpoint_dir = pathlib.Path(restore.checkpoint_dir(tiny_run_workdir))
  for step in (2, 4):
    manifest = json.loads(
        (checkpoint_dir.parent / digests.DIGEST_DIR / f"{step}.json").read_text())
    files = [path for path in (checkpoint_dir / str(step)).rglob("*") if path.is_file()]
    assert manifest["step"] == step and len(manifest["files"]) == len(files) > 5
    assert digests.check(checkpoint_dir, step) is None


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_damaged_newest_step_is_named_and_the_one_before_restored(
    kind, tiny_run_workdir, tmp_path, caplog):
  workdir = _copy(tiny_run_workdir, tmp_path)
  damaged = KINDS[kind](workdir / "checkpoints" / "4")
  assert damaged.is_file(), damaged
  _flip_bytes(damaged)
  with caplog.at_level(logging.WARNING):
    trained = restore.load(str(workdir))
  assert trained.step == 2
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert len(warnings) == 1 and "checkpoint of step 4" in warnings[0], warnings
  if kind != "manifest":
    assert str(damaged.relative_to(workdir / "checkpoints" / "4")) in warnings[0]
  reference = restore.load(tiny_run_workdir, step=2)
  for ours, theirs in zip(jax.tree.leaves(trained.params), jax.tree.leaves(reference.params)):
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_no_intact_step_is_one_clear_error_naming_every_step_tried(tiny_run_workdir, tmp_path):
  workdir = _copy(tiny_run_workdir, tmp_path)
  for step in ("2", "4"):
    _flip_bytes(_largest_file(workdir / "checkpoints" / step / "params"))
  with pytest.raises(checkpointing.DamagedCheckpointError) as error:
    restore.load(str(workdir))
  message = str(error.value)
  assert "step 4: file" in message and "step 2: file" in message and "new --workdir" in message
  result = subprocess.run(  # the command line: that one line, no traceback, exit status 1
      [sys.executable, "-m", "gqn_jax.evaluate", f"--workdir={workdir}", "--num_scenes=1"],
      capture_output=True, text=True, check=False, timeout=300)
  assert result.returncode == 1, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1].startswith("gqn_jax.evaluate: no intact checkpoint")


def test_a_checkpoint_written_before_digests_restores_with_a_note(tiny_run_workdir, tmp_path,
                                                                  caplog):
  workdir = _copy(tiny_run_workdir, tmp_path)
  shutil.rmtree(workdir / digests.DIGEST_DIR)
  with caplog.at_level(logging.INFO):
    assert restore.load(str(workdir)).step == 4
  assert "has no recorded digests" in caplog.text and "could not be checked" in caplog.text


def test_an_exported_model_carries_digests_and_a_damaged_one_is_refused(trained, tiny_run_workdir,
                                                                         tmp_path):
  out = tmp_path / "exported"
  export.export(tiny_run_workdir, str(out))
  assert restore.load(str(out)).step == trained.step  # intact: restores
  _flip_bytes(_largest_file(out / "checkpoints" / str(trained.step) / "params"))
  with pytest.raises(checkpointing.DamagedCheckpointError, match=(
      rf"step {trained.step}: file params/.* differs from what was written")):
    restore.load(str(out))


def test_a_resume_skips_a_damaged_newest_step_and_sets_it_aside(tiny_config, tiny_run_workdir,
                                                                tmp_path, caplog):
  workdir = _copy(tiny_run_workdir, tmp_path)
  _flip_bytes(_largest_file(workdir / "checkpoints" / "4" / "opt_state"))
  with caplog.at_level(logging.INFO):
    train.train_and_evaluate(tiny_config(num_steps=6), str(workdir))
  assert "checkpoint of step 4" in caplog.text and "is damaged" in caplog.text
  assert "resumed from the checkpoint of step 2" in caplog.text
  assert (workdir / checkpointing.DAMAGED_DIR / "4").is_dir()  # kept, out of the way
  assert restore.available_steps(str(workdir))[-1] == 6
  checkpoint_dir = restore.checkpoint_dir(workdir)
  assert all(digests.check(checkpoint_dir, step) is None
             for step in restore.available_steps(str(workdir)))
