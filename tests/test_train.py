"""End-to-end training on tiny procedural data: outputs, exact resumption, errors, NaN stop.

The runs share one procedural dataset and the suite's persistent compilation cache (conftest.py),
so only the first run pays for compiling; the later ones load the executables.
"""

import glob
import json
import os
import re
import shutil
import types

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

from gqn_jax.data import reader
from gqn_jax.runs import camera_scale
from gqn_jax.runs import checkpointing
from gqn_jax.runs import data_source
from gqn_jax.scenes import stream
from gqn_jax.trained import restore
from gqn_jax.trained import run_scenes
from gqn_jax.training import memory_check
from gqn_jax.training import run_guard
from gqn_jax.training import steps
from gqn_jax.training import train


def read_metrics(workdir, split):
  with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
  return [row for row in rows if row["split"] == split]


@pytest.fixture(scope="module")
def runs(tiny_config, tiny_run_workdir, tmp_path_factory):
  """An uninterrupted 4-step run (the suite's shared tiny run, conftest.py: the tests here copy it
  before they change it), and a run stopped after 2 steps then resumed to 4."""
  straight = tiny_run_workdir
  final_metrics = read_metrics(straight, "test")[-1]
  resumed = str(tmp_path_factory.mktemp("resumed"))
  train.train_and_evaluate(tiny_config(num_steps=2), resumed)
  # What a crash in the middle of saving step 3 leaves behind: an unfinished temporary folder.
  partial = os.path.join(resumed, "checkpoints", "3.orbax-checkpoint-tmp", "params")
  os.makedirs(partial)
  with open(os.path.join(partial, "garbage"), "w", encoding="utf-8") as f:
    f.write("half-written")
  train.train_and_evaluate(tiny_config(), resumed)
  return {"straight": straight, "resumed": resumed, "final_metrics": final_metrics}


def test_run_writes_metrics_for_every_logged_step(runs):
  train_rows = read_metrics(runs["straight"], "train")
  assert [row["step"] for row in train_rows] == [1, 2, 3, 4]
  for row in train_rows:
    for key in ("loss", "nll", "kl", "bits_per_dim", "sigma", "learning_rate", "grad_norm",
                "steps_per_sec", "scenes_per_sec"):
      assert np.isfinite(row[key]), key
    np.testing.assert_allclose(row["loss"], row["nll"] + row["kl"], rtol=1e-5)
  assert train_rows[0]["sigma"] == pytest.approx(2.0)
  assert train_rows[0]["learning_rate"] == pytest.approx(5e-4)
  test_rows = read_metrics(runs["straight"], "test")
  assert [row["step"] for row in test_rows] == [0, 4]
  for key in ("loss", "elbo", "bits_per_dim", "kl", "mse", "psnr"):
    assert np.isfinite(test_rows[-1][key]), key
  assert test_rows[-1]["psnr"] == pytest.approx(-10 * np.log10(test_rows[-1]["mse"]), abs=3.0)


def test_run_writes_tensorboard_scalars_and_images(runs):
  events = glob.glob(os.path.join(runs["straight"], "tensorboard", "events.out.tfevents.*"))
  assert len(events) == 1
  accumulator = event_accumulator.EventAccumulator(events[0], size_guidance={"tensors": 0})
  accumulator.Reload()
  tags = set(accumulator.Tags()["tensors"])
  assert {"train/loss", "train/grad_norm", "test/loss", "test/psnr"} <= tags
  assert "test/context_target_posterior_prior" in tags
  assert [event.step for event in accumulator.Tensors("train/loss")] == [1, 2, 3, 4]


def test_run_writes_config_and_checkpoints(runs):
  workdir = runs["straight"]
  with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
    assert json.load(f)["train"]["num_steps"] == 4
  steps = sorted(int(name) for name in os.listdir(os.path.join(workdir, "checkpoints")))
  assert steps == [2, 4]
  items = set(os.listdir(os.path.join(workdir, "checkpoints", "4")))
  assert {"params", "opt_state", "config", "data"} <= items
  trained = restore.load(workdir)  # what render/evaluate do: params and config only
  assert trained.step == 4


def test_resumed_losses_equal_an_uninterrupted_run(runs):
  straight = read_metrics(runs["straight"], "train")
  resumed = read_metrics(runs["resumed"], "train")
  assert [row["step"] for row in resumed] == [1, 2, 3, 4]
  for key in ("loss", "nll", "kl", "grad_norm", "sigma", "learning_rate"):
    assert [row[key] for row in resumed] == [row[key] for row in straight], key
  assert read_metrics(runs["resumed"], "test")[-1]["loss"] == read_metrics(
      runs["straight"], "test")[-1]["loss"]


def test_half_written_checkpoint_is_ignored_and_cleaned_up(runs):
  manager = checkpointing.create_manager(runs["resumed"], max_to_keep=3)
  try:
    assert manager.latest_step() == 4
    assert 3 not in manager.all_steps()
  finally:
    manager.close()
  leftovers = [name for name in os.listdir(os.path.join(runs["resumed"], "checkpoints"))
               if "tmp" in name]
  assert not leftovers, leftovers


def test_finished_run_resumes_to_evaluation_only(runs, tiny_config, tmp_path):
  workdir = str(tmp_path / "copy")
  shutil.copytree(runs["straight"], workdir)
  metrics = train.train_and_evaluate(tiny_config(), workdir)
  assert metrics["loss"] == runs["final_metrics"]["loss"]
  assert [row["step"] for row in read_metrics(workdir, "train")] == [1, 2, 3, 4]


def test_non_finite_loss_stops_with_the_step_and_keeps_good_checkpoints(
    tiny_config, tmp_path):
  config = tiny_config()
  # sigma_s reaches 0 at s = 2, so the third update (step 3) has log(0) in its likelihood.
  config.train.sigma_initial = 1.0
  config.train.sigma_final = 0.0
  config.train.sigma_anneal_steps = 2
  config.train.checkpoint_every = 1
  config.train.eval_at_start = False
  workdir = str(tmp_path)
  with pytest.raises(train.NonFiniteLossError, match="training step 3"):
    train.train_and_evaluate(config, workdir)
  steps = sorted(int(name) for name in os.listdir(os.path.join(workdir, "checkpoints")))
  assert steps == [1, 2]
  assert [row["step"] for row in read_metrics(workdir, "train")] == [1, 2]


def test_no_checkpoint_holds_a_state_whose_loss_is_not_finite(
    tiny_config, tmp_path):
  config = tiny_config(num_steps=6)
  config.train.lr_initial = config.train.lr_final = 1e6  # finite updates, NaN loss after them
  config.train.checkpoint_every = 1
  config.train.eval_at_start = False
  workdir = str(tmp_path)
  with pytest.raises(train.NonFiniteLossError, match=(
      "no checkpoint has been written yet|the latest checkpoint is step")) as error:
    train.train_and_evaluate(config, workdir)
  steps = restore.available_steps(workdir)
  if not steps:
    assert "no checkpoint has been written yet" in str(error.value)
  for step in steps:  # every saved state gives a finite loss on a batch
    trained = restore.load(workdir, step=step)
    frames, cameras = run_scenes.load_test_scenes(trained.config, num_scenes=2)
    terms = trained.elbo(frames[:, 1:], cameras[:, 1:], frames[:, 0], cameras[:, 0],
                         jax.random.key(0))
    assert np.all(np.isfinite(terms.elbo)), step


def test_the_state_check_reads_every_context_slot_so_it_compiles_once(
    tiny_config, tmp_path, monkeypatch):
  """Updates run on batches cut to the context slots in use (one compile per size); the check
  before each save must not follow them, or a run compiles it once per context size. Each
  executable is compiled once: the memory check's is the one the updates then call."""
  config = tiny_config(num_steps=4)
  config.train.checkpoint_every = 1
  config.train.eval_at_start = False
  assert config.train.trim_context
  calls, compiles = [], []
  real_call, real_compile = steps.CompiledStep.__call__, steps.CompiledStep._compile

  def recording_call(self, *args):
    if self.what != "evaluation step":
      calls.append((self.what, args[2]["context_frames"].shape[1]))
    return real_call(self, *args)

  def recording_compile(self, args):
    compiles.append((self.what, self._describe(args) if self._describe else None))  # pylint: disable=protected-access
    return real_compile(self, args)

  monkeypatch.setattr(steps.CompiledStep, "__call__", recording_call)
  monkeypatch.setattr(steps.CompiledStep, "_compile", recording_compile)
  train.train_and_evaluate(config, str(tmp_path))
  updated = [slots for what, slots in calls if what == "training update"]
  checked = [slots for what, slots in calls if what != "training update"]
  assert len(updated) == 4 and len(set(updated)) > 1  # updates saw batches cut to other sizes
  assert checked == [config.data.max_context] * 4
  assert len(compiles) == len(set(compiles))  # nothing compiled twice
  assert compiles[0] == ("training update", f"{config.data.max_context} context slots")
  assert sum(what == "state check before saving" for what, _ in compiles) == 1


def test_resuming_with_another_model_size_names_the_config_keys(runs, tiny_config, tmp_path):
  workdir = str(tmp_path / "copy")
  shutil.copytree(runs["straight"], workdir)
  config = tiny_config(num_steps=6)
  config.model.h_channels = 2 * config.model.h_channels
  with pytest.raises(run_guard.ConfigChangedError, match=(
      r"config.model.h_channels=8 in the run, 16 now.*--allow_config_change")):
    train.train_and_evaluate(config, workdir)
  with pytest.raises(ValueError, match=(  # allowed, but the parameters cannot be restored
      r"another model size: model.h_channels=8 in the checkpoint but 16 now.*--config.model."
      r"h_channels=.*new --workdir")):
    train.train_and_evaluate(config, workdir, allow_config_change=True)


def test_resuming_with_another_learning_rate_or_dataset_is_refused_naming_the_keys(
    runs, tiny_config, tmp_path, monkeypatch):
  workdir = str(tmp_path / "copy")
  shutil.copytree(runs["straight"], workdir)
  untouched = lambda *args, **kwargs: pytest.fail("data touched before the config was checked")
  for module, name in ((train.data_source, "make_inputs"), (data_source, "resolve"),
                       (camera_scale, "training_cameras"), (reader, "read_scenes"),
                       (stream, "stream_scene")):  # no data file opened, no scene rendered
    monkeypatch.setattr(module, name, untouched)
  config = tiny_config(num_steps=6)
  config.train.lr_initial = 1e-2
  config.data.name = "shepard_metzler_7_parts"
  with pytest.raises(run_guard.ConfigChangedError) as error:
    train.train_and_evaluate(config, workdir)
  message = str(error.value)
  assert "config.train.lr_initial=0.0005 in the run, 0.01 now" in message
  assert "config.data.name='rooms_ring_camera' in the run, 'shepard_metzler_7_parts' now" in message
  assert "--allow_config_change" in message and "num_steps" not in message


def test_an_allowed_change_resumes_and_every_start_is_in_the_history(runs, tiny_config,
                                                                      tmp_path):
  workdir = str(tmp_path / "copy")
  shutil.copytree(runs["resumed"], workdir)
  config = tiny_config(num_steps=5)  # num_steps may change without asking
  config.train.lr_initial = 1e-3
  train.train_and_evaluate(config, workdir, allow_config_change=True)
  with open(os.path.join(workdir, "config_history.jsonl"), encoding="utf-8") as f:
    history = [json.loads(line) for line in f]
  assert [entry["start_step"] for entry in history] == [0, 2, 4]
  assert history[1]["changes"] == {"train.num_steps": [2, 4]}
  assert history[2]["changes"] == {"train.lr_initial": [0.0005, 0.001],
                                   "train.num_steps": [4, 5]}
  assert history[2]["config"]["train"]["lr_initial"] == 1e-3


def test_a_second_run_on_a_held_workdir_fails_naming_the_holder(tiny_config, tmp_path,
                                                                 monkeypatch):
  monkeypatch.setattr(train.data_source, "make_inputs", lambda *args: pytest.fail("data read"))
  with run_guard.WorkdirLock(tmp_path):
    with pytest.raises(run_guard.WorkdirLockedError,
                       match=f"another run trains in {tmp_path}: pid {os.getpid()} on host"):
      train.train_and_evaluate(tiny_config(), str(tmp_path))
  assert not (tmp_path / run_guard.LOCK_NAME).exists()  # released


def test_an_unwritable_workdir_fails_before_any_work(tiny_config, tmp_path, monkeypatch):
  in_the_way = tmp_path / "run"
  in_the_way.write_text("a file where the workdir should be")
  monkeypatch.setattr(train.data_source, "resolve", lambda *args: pytest.fail("data touched"))
  with pytest.raises(OSError, match=f"cannot use {in_the_way}/sub as the training workdir"):
    train.train_and_evaluate(tiny_config(), str(in_the_way / "sub"))


def test_bad_config_fails_before_any_work(tiny_config, tmp_path):
  config = tiny_config()
  config.data.name = "rooms_ring"
  with pytest.raises(ValueError, match="unknown GQN dataset 'rooms_ring'"):
    train.train_and_evaluate(config, str(tmp_path / "never"))
  assert not os.path.exists(tmp_path / "never")


def test_max_context_beyond_the_data_fails_before_any_work(tiny_config, tmp_path):
  config = tiny_config()
  config.data.max_context = 10  # the procedural rooms have 10 views: none left for the query
  with pytest.raises(ValueError, match="max_context=10 leaves no query view"):
    train.train_and_evaluate(config, str(tmp_path / "never"))
  assert not os.path.exists(tmp_path / "never")


def test_a_step_too_large_for_the_memory_is_refused_before_it_runs_naming_the_knobs(
    tiny_config, tmp_path, monkeypatch):
  monkeypatch.setattr(memory_check, "available_bytes", lambda device: (1000, "a test"))
  steps_run = []
  monkeypatch.setattr(steps.CompiledStep, "__call__", lambda *args: steps_run.append(args))
  with pytest.raises(memory_check.StepMemoryError, match=(
      r"the training step needs about .* GiB per device .* but 0.00 GiB is free \(a test\).*"
      r"--config.train.batch_size \(now 4.*--config.model.remat=True.*GQN_JAX_SKIP_MEMORY_CHECK")):
    train.train_and_evaluate(tiny_config(), str(tmp_path / "run"))
  assert not steps_run  # refused before the first step
  monkeypatch.setenv(memory_check.SKIP_ENV, "1")  # the way out named in the message
  assert memory_check.check_step_fits(lambda: pytest.fail("compiled"), tiny_config()) == (
      None, None)


def test_the_memory_estimate_is_xlas_analysis_of_the_step():
  compiled = jax.jit(lambda x: (x @ x.T).sum(axis=0)).lower(
      jax.ShapeDtypeStruct((256, 512), jnp.float32)).compile()
  needed = memory_check.step_bytes(compiled)
  assert needed >= 256 * 4  # at least the output
  assert memory_check.host_available_bytes() > 0


def test_a_compiled_step_compiles_once_per_signature_as_jit_keys_it(caplog):
  """A new shape, dtype or sharding compiles once instead of raising; the same signature again
  reuses the executable."""
  compiled_step = steps.CompiledStep(jax.jit(lambda x, y: x * 2 + y), "doubling")
  compiles = []
  real_compile = compiled_step._compile  # pylint: disable=protected-access
  compiled_step._compile = lambda args: compiles.append(args) or real_compile(args)  # pylint: disable=protected-access
  one = jnp.ones((2, 3), jnp.float32)
  np.testing.assert_allclose(compiled_step(one, 1.0), 3.0)
  np.testing.assert_allclose(compiled_step(one + 1, 2.0), 6.0)  # same signature: reused
  assert len(compiles) == 1
  np.testing.assert_allclose(compiled_step(jnp.ones((4, 3)), 1.0), 3.0)  # new shape
  np.testing.assert_allclose(compiled_step(jnp.ones((2, 3), jnp.int32), 1), 3)  # new dtypes
  assert len(compiles) == 3
  cpu = jax.devices()[0]
  placed = jax.device_put(one, jax.sharding.SingleDeviceSharding(cpu))
  assert steps.signature((placed, 1.0)) != steps.signature((np.ones((2, 3), np.float32), 1.0))
  assert steps.signature((one, 1.0)) == steps.signature((one + 5, 1.0))


def test_the_log_comes_every_30_s_whatever_its_interval_with_rates_that_leave_out_compiles(
    monkeypatch, caplog):
  """A slow step (the paper model on a CPU, 10 s a step here) with log_every=1000 still logs at
  least every 30 s; a compile inside an interval does not count in its rate (so not in the ETA);
  a run that would take more than a day says so once, naming the small preset."""
  config = ml_collections.ConfigDict(
      {"train": {"log_every": 1000, "num_steps": 1_000_000, "batch_size": 4}})
  now = [0.0]
  monkeypatch.setattr(train.time, "perf_counter", lambda: now[0])
  rows = []
  writer = types.SimpleNamespace(write_scalars=lambda step, split, values: rows.append(
      (step, now[0], values["steps_per_sec"])))
  reader = train._StepReader(config, writer, 0, lambda: "no checkpoint yet")  # pylint: disable=protected-access
  metrics = {"finite": True, "loss": 1.0, "nll": 1.0, "kl": 0.0, "bits_per_dim": 1.0,
             "sigma": 2.0, "learning_rate": 1e-3, "grad_norm": 1.0}
  with caplog.at_level("INFO"):
    for step in range(1, 13):
      now[0] += 10.0
      if step == 5:  # a compile of 20 s inside this step (a new context-slot count)
        now[0] += 20.0
        monkeypatch.setattr(steps, "_compile_seconds", [steps.compile_seconds() + 20.0])
      reader.push(step, metrics)
    reader.flush()
  times = [row[1] for row in rows]
  assert len(rows) >= 3 and all(b - a >= train.PROGRESS_EVERY_S for a, b in zip(times, times[1:]))
  # After the first interval (read one step late from the start), 10 s a step: the compile is out.
  assert all(rate == pytest.approx(0.1) for _, _, rate in rows[1:]), rows
  assert caplog.text.count("take about") == 1
  assert re.search(r"take about 1\d\d\.\d days on \d+ cpu devices?;", caplog.text), caplog.text
  assert "configs/rooms.py:small" in caplog.text
