"""Stops a cloud or a user sends a real `python -m gqn_jax.main` process (see docs/reliability.md).

SIGTERM and Ctrl-C save the step in flight; a second Ctrl-C quits at once; SIGKILL at random
moments (during start-up, compiles, steps or saves) loses only the steps since the last
checkpoint. After each, running the same command again must give exactly the losses of an
uninterrupted run, each step logged once.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

# Long enough that a kill at 2-12 s lands in start-up, compiles, steps or saves (a warm start
# takes 5-10 s), short enough for the suite.
NUM_STEPS = 120
CHECKPOINT_EVERY = 20


def command(workdir, procedural_cache, source="procedural"):
  return [
      sys.executable, "-m", "gqn_jax.main", "--config=configs/rooms.py:tiny",
      f"--config.data.source={source}", f"--config.data.procedural_cache={procedural_cache}",
      f"--config.train.num_steps={NUM_STEPS}", "--config.train.log_every=1",
      f"--config.train.checkpoint_every={CHECKPOINT_EVERY}", "--config.train.eval_every=100000",
      "--config.train.eval_at_start=False", "--report=false", f"--workdir={workdir}"]


@pytest.fixture(scope="module")
def environment():
  # With the suite's compilation cache (conftest.py): restarts read the compiled programs.
  return dict(os.environ)


def start(workdir, procedural_cache, environment, repo_dir, source="procedural"):
  """Starts the run; its log goes to a file (a pipe nobody reads would fill up and block it)."""
  log_path = os.path.join(os.path.dirname(workdir), f"{os.path.basename(workdir)}.{time.time_ns()}.log")
  with open(log_path, "w", encoding="utf-8") as log:
    process = subprocess.Popen(command(workdir, procedural_cache, source), cwd=repo_dir,
                               env=environment,
                               stdout=subprocess.DEVNULL, stderr=log, text=True)
  process.log_path = log_path
  return process


def log_of(process):
  with open(process.log_path, encoding="utf-8") as f:
    return f.read()


def finish(workdir, procedural_cache, environment, repo_dir, source="procedural"):
  result = subprocess.run(command(workdir, procedural_cache, source), cwd=repo_dir, env=environment,
                          capture_output=True, text=True, check=False, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return result


def train_rows(workdir):
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return []
  with open(path, encoding="utf-8") as f:
    rows = [json.loads(line) for line in f if line.endswith("\n")]
  return [row for row in rows if row["split"] == "train"]


def wait_for_step(workdir, step, process, timeout=300):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    assert process.poll() is None, log_of(process)[-3000:]
    rows = train_rows(workdir)
    if rows and rows[-1]["step"] >= step:
      return
    time.sleep(0.05)
  raise AssertionError(f"step {step} not reached in {timeout} s")


def checkpoint_steps(workdir):
  directory = os.path.join(workdir, "checkpoints")
  return sorted(int(name) for name in os.listdir(directory) if name.isdigit())


def assert_same_losses(workdir, reference):
  rows = train_rows(workdir)
  assert [row["step"] for row in rows] == list(range(1, NUM_STEPS + 1))  # each step once
  for key in ("loss", "grad_norm", "kl"):
    assert [row[key] for row in rows] == [row[key] for row in reference], key


# The files of the procedural cache (a tf.data iterator in the checkpoint) and the scene stream
# (a counter in the checkpoint) must both resume exactly.
SOURCES = ("procedural", "stream")
_references = {}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, procedural_cache, environment, repo_dir):
  def of(source):
    if source not in _references:
      workdir = str(tmp_path_factory.mktemp(f"uninterrupted_{source}"))
      finish(workdir, procedural_cache, environment, repo_dir, source)
      _references[source] = train_rows(workdir)
    return _references[source]
  return of


def polite_stop(workdir, signum, exit_code, procedural_cache, environment, repo_dir, source):
  """Starts the run, sends `signum` after step 5 and checks the stop: the exit code, a checkpoint
  of the last finished step (not of the last multiple of checkpoint_every), the message."""
  process = start(workdir, procedural_cache, environment, repo_dir, source)
  wait_for_step(workdir, (train_rows(workdir) or [{"step": 0}])[-1]["step"] + 5, process)
  process.send_signal(signum)
  process.wait(timeout=120)
  stderr = log_of(process)
  assert process.returncode == exit_code, stderr[-3000:]
  stopped_at = train_rows(workdir)[-1]["step"]
  assert stopped_at < NUM_STEPS
  assert checkpoint_steps(workdir)[-1] == stopped_at
  assert (f"stopped by {signal.Signals(signum).name} after step {stopped_at}" in stderr
          and "Run the same command with the same --workdir to resume" in stderr)


# SIGTERM on every data source (each resumes its own data state) and SIGINT (the same handler)
# on one: here SIGTERM on the files; the chaos test below stops each source politely first, the
# stream with SIGTERM and the files with SIGINT, so each process start counts twice.
def test_a_polite_stop_keeps_the_step_in_flight(reference, tmp_path, procedural_cache,
                                                environment, repo_dir):
  workdir = str(tmp_path)
  polite_stop(workdir, signal.SIGTERM, 143, procedural_cache, environment, repo_dir,
              "procedural")
  finish(workdir, procedural_cache, environment, repo_dir, "procedural")
  assert_same_losses(workdir, reference("procedural"))


def test_a_second_ctrl_c_quits_at_once(tmp_path, procedural_cache, environment, repo_dir):
  workdir = str(tmp_path)
  process = start(workdir, procedural_cache, environment, repo_dir)
  deadline = time.monotonic() + 300
  while "data: rooms_ring_camera" not in log_of(process):  # the handlers are in place from here
    assert process.poll() is None and time.monotonic() < deadline, log_of(process)[-3000:]
    time.sleep(0.05)
  process.send_signal(signal.SIGINT)
  time.sleep(0.2)
  sent = time.monotonic()
  process.send_signal(signal.SIGINT)
  process.wait(timeout=60)
  waited = time.monotonic() - sent
  assert process.returncode == 130
  assert "second Ctrl-C: quitting without a checkpoint" in log_of(process)
  assert waited < 5.0, f"took {waited:.1f} s to quit after the second Ctrl-C"


@pytest.mark.parametrize("source, signum, exit_code", [
    ("procedural", signal.SIGINT, 130), ("stream", signal.SIGTERM, 143)])
def test_a_polite_stop_then_random_kills_resume_bit_for_bit(source, signum, exit_code, reference,
                                                            tmp_path, procedural_cache,
                                                            environment, repo_dir):
  """A polite stop, then chaos: SIGKILL at random moments (start-up, compile, steps, saves)."""
  workdir = str(tmp_path)
  polite_stop(workdir, signum, exit_code, procedural_cache, environment, repo_dir, source)
  chance = random.Random(os.environ.get("GQN_CHAOS_SEED", str(time.time_ns())))
  kills = []
  for _ in range(3):
    process = start(workdir, procedural_cache, environment, repo_dir, source)
    delay = chance.uniform(2.0, 12.0)
    try:
      process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()
    kills.append((round(delay, 2), train_rows(workdir)[-1]["step"]))
    if train_rows(workdir)[-1]["step"] == NUM_STEPS:
      break
  finish(workdir, procedural_cache, environment, repo_dir, source)
  try:
    assert_same_losses(workdir, reference(source))
  except AssertionError as error:
    raise AssertionError(f"after kills (delay s, last step) {kills}: {error}") from error


_IPYTHON_SCRIPT = r"""
import os, signal, sys, time, types
sys.modules["IPython"] = types.SimpleNamespace(get_ipython=lambda: object())  # a kernel
from gqn_jax.training import preemption
with preemption.StopSignals() as stop:
  os.kill(os.getpid(), signal.SIGINT)
  while stop.signum is None:
    time.sleep(0.01)
  try:
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(500):  # the main thread busy, as in a step
      time.sleep(0.01)
    print("no interrupt")
  except KeyboardInterrupt as e:
    print("KeyboardInterrupt:", e)
  time.sleep(0.5)  # a second raise (the simulated and the real signal) would land here
print("kernel alive")
"""


def test_a_second_ctrl_c_under_ipython_raises_instead_of_killing_the_kernel(repo_dir):
  result = subprocess.run([sys.executable, "-c", _IPYTHON_SCRIPT], capture_output=True,
                          text=True, check=False, cwd=repo_dir, timeout=120)
  assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
  assert result.stdout.splitlines() == [
      "KeyboardInterrupt: second Ctrl-C: training stopped without a checkpoint", "kernel alive"]
  assert "the kernel stays up" in result.stderr
