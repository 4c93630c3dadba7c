"""gqn_jax.training.distributed: launch detection, batch arithmetic, file sharding, two processes.

The two-process test starts two Python processes on this machine that meet through
jax.distributed (CPU collectives), exactly as two hosts of a pod would.
"""

import os
import signal
import re
import socket
import subprocess
import sys
import textwrap
import time

import jax
import pytest

from gqn_jax.training import distributed

_SLURM_STEP = {
    "SLURM_JOB_ID": "4242", "SLURM_STEP_NODELIST": "gpu[003-004]", "SLURM_NTASKS": "2",
    "SLURM_PROCID": "1", "SLURM_LOCALID": "0",
}
_EXPLICIT = {
    "JAX_COORDINATOR_ADDRESS": "node1:12345", "JAX_NUM_PROCESSES": "4", "JAX_PROCESS_ID": "3",
}


def test_single_process_environment_is_not_distributed():
  assert distributed.detect_cluster({}) is None
  assert distributed.detect_cluster({"HOME": "/root", "JAX_COORDINATOR_ADDRESS": "h:1"}) is None
  assert distributed.maybe_initialize({}) is None
  assert not jax.distributed.is_initialized()


def test_explicit_variables_are_passed_through_with_detection_off():
  spec = distributed.detect_cluster(_EXPLICIT)
  assert spec.method == "explicit"
  assert spec.initialize_kwargs == dict(
      coordinator_address="node1:12345", num_processes=4, process_id=3,
      cluster_detection_method="deactivate")
  # Explicit variables win over the SLURM step around them (gpu_multinode.sh sets both).
  assert distributed.detect_cluster({**_SLURM_STEP, **_EXPLICIT}).method == "explicit"


def test_explicit_single_process_is_not_distributed():
  env = {**_EXPLICIT, "JAX_NUM_PROCESSES": "1", "JAX_PROCESS_ID": "0"}
  assert distributed.detect_cluster(env) is None


@pytest.mark.parametrize("drop", ["JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"])
def test_half_configured_launch_names_the_missing_variable(drop):
  env = {key: value for key, value in _EXPLICIT.items() if key != drop}
  with pytest.raises(ValueError, match=f"{drop} missing"):
    distributed.detect_cluster(env)


@pytest.mark.parametrize("key,value,match", [
    ("JAX_NUM_PROCESSES", "four", "JAX_NUM_PROCESSES='four' must be an integer"),
    ("JAX_PROCESS_ID", "4", "JAX_PROCESS_ID=4 must lie in 0..JAX_NUM_PROCESSES-1"),
    ("JAX_PROCESS_ID", "-1", "JAX_PROCESS_ID=-1 must lie in"),
    ("GQN_DISTRIBUTED", "yes", "GQN_DISTRIBUTED='yes' must be 0"),
])
def test_bad_values_are_named(key, value, match):
  with pytest.raises(ValueError, match=match):
    distributed.detect_cluster({**_EXPLICIT, key: value})


def test_switch_forces_or_forbids_initialization():
  assert distributed.detect_cluster({"GQN_DISTRIBUTED": "1"}) == distributed.ClusterSpec("forced")
  assert distributed.detect_cluster({**_EXPLICIT, "GQN_DISTRIBUTED": "0"}) is None


def test_slurm_step_with_several_tasks_is_detected():
  assert distributed.detect_cluster(_SLURM_STEP) == distributed.ClusterSpec("slurm")
  assert distributed.detect_cluster({**_SLURM_STEP, "SLURM_NTASKS": "1"}) is None
  batch_script = {k: v for k, v in _SLURM_STEP.items() if k != "SLURM_STEP_NODELIST"}
  assert distributed.detect_cluster(batch_script) is None


@pytest.mark.parametrize("tasks_per_node,warns", [("1(x2)", True), ("1", True), ("4(x2)", False)])
def test_slurm_with_one_task_per_node_warns_about_its_single_gpu(monkeypatch, caplog,
                                                                 tasks_per_node, warns):
  monkeypatch.setattr(jax.distributed, "initialize", lambda **kwargs: None)
  env = {**_SLURM_STEP, "SLURM_STEP_TASKS_PER_NODE": tasks_per_node}
  assert distributed.maybe_initialize(env).method == "slurm"
  assert ("every node uses one GPU" in caplog.text) == warns


def test_tpu_pod_environment_is_detected():
  assert distributed.detect_cluster({"TPU_WORKER_HOSTNAMES": "t0,t1"}).method == "tpu"
  assert distributed.detect_cluster({"TPU_WORKER_HOSTNAMES": "t0"}) is None
  assert distributed.detect_cluster({"MEGASCALE_NUM_SLICES": "2"}).method == "tpu"


def test_maybe_initialize_calls_jax_with_the_detected_arguments(monkeypatch):
  calls = []
  monkeypatch.setattr(jax.distributed, "initialize", lambda **kwargs: calls.append(kwargs))
  spec = distributed.maybe_initialize(_EXPLICIT)
  assert spec.method == "explicit"
  assert calls == [spec.initialize_kwargs]


@pytest.mark.parametrize("global_batch,processes,local_devices,per_host", [
    (36, 1, 1, 36), (36, 1, 4, 36), (64, 2, 4, 32), (256, 32, 8, 8), (512, 64, 4, 8),
])
def test_host_batch_times_hosts_is_the_global_batch(global_batch, processes, local_devices,
                                                    per_host):
  got = distributed.host_batch_size(global_batch, processes, local_devices)
  assert got == per_host
  assert got * processes == global_batch
  assert got % local_devices == 0  # every local device gets the same number of examples


def test_host_batch_defaults_to_this_run():
  assert distributed.host_batch_size(jax.device_count()) == jax.local_device_count()


def test_indivisible_global_batch_says_what_to_use():
  with pytest.raises(ValueError, match=r"36 does not divide evenly over 32 devices \(4 processes "
                     r"x 8 local devices\).*multiple of 32, e.g. 32 or 64"):
    distributed.host_batch_size(36, 4, 8)
  with pytest.raises(ValueError, match="config.train.batch_size to a multiple of 8, e.g. 8$"):
    distributed.host_batch_size(4, 2, 4)


@pytest.mark.parametrize("bad", [0, -8, 2.0, True, "8"])
def test_non_positive_or_non_integer_counts_are_rejected(bad):
  with pytest.raises(ValueError, match="global_batch_size must be a positive integer"):
    distributed.host_batch_size(bad, 1, 1)
  with pytest.raises(ValueError, match="process_count must be a positive integer"):
    distributed.host_batch_size(8, bad, 1)
  with pytest.raises(ValueError, match="local_device_count must be a positive integer"):
    distributed.host_batch_size(8, 1, bad)


@pytest.mark.parametrize("num_files,process_count", [(16, 4), (2160, 32), (10, 3), (7, 7)])
def test_each_process_reads_a_disjoint_share_and_together_all_files(num_files, process_count):
  # The input pipeline owns the sharding rule; this checks the multi-host property of it.
  from gqn_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  files = [f"/data/rooms/train/{i:04d}-of-{num_files:04d}.tfrecord" for i in range(1, num_files + 1)]
  shares = [pipeline.shard_files(files, index, process_count)
            for index in range(process_count)]
  seen = [name for share in shares for name in share]
  assert sorted(seen) == sorted(files)  # covering, and no file twice (disjoint)
  assert max(map(len, shares)) - min(map(len, shares)) <= 1  # balanced


_WORKER = textwrap.dedent("""
    import jax, numpy as np
    from gqn_jax.training import distributed
    spec = distributed.maybe_initialize()
    mesh = jax.make_mesh((jax.device_count(),), ("data",),
                         axis_types=(jax.sharding.AxisType.Auto,))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    rows = distributed.host_batch_size(8)
    # Process p contributes rows holding p + 1, so the global sum proves both halves arrived.
    batch = distributed.make_global_batch(
        {"x": np.full((rows, 3), jax.process_index() + 1, np.float32)}, sharding)
    total = jax.jit(lambda x: x.sum())(batch["x"])
    print("RESULT", spec.method, jax.process_index(), jax.process_count(), jax.device_count(),
          rows, batch["x"].shape, float(total), distributed.is_main_process(), flush=True)
""")


def _free_port():
  with socket.socket() as sock:
    sock.bind(("localhost", 0))
    return sock.getsockname()[1]


def test_two_processes_form_one_global_batch():
  port = _free_port()
  procs = []
  for process_id in range(2):
    env = dict(os.environ, JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2",
               JAX_PROCESS_ID=str(process_id), JAX_PLATFORMS="cpu",
               XLA_FLAGS="--xla_force_host_platform_device_count=2")
    procs.append(subprocess.Popen([sys.executable, "-c", _WORKER], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
  outputs = []
  for proc in procs:
    try:
      out, _ = proc.communicate(timeout=120)
    finally:
      proc.kill()
    assert proc.returncode == 0, out
    outputs.append([line for line in out.splitlines() if line.startswith("RESULT")][0])
  # 2 processes x 2 devices; 4 rows each of 1s and of 2s over 3 columns: 12 + 24.
  assert outputs == [
      "RESULT explicit 0 2 4 4 (8, 3) 36.0 True",
      "RESULT explicit 1 2 4 4 (8, 3) 36.0 False",
  ]


def test_scaling_doc_uses_the_models_parameter_count(repo_dir):
  """docs/scaling.md derives the all-reduce size from this count; it must be the model's."""
  from gqn_jax.model import gqn  # pylint: disable=g-import-not-at-top
  from gqn_jax.runs import config_files  # pylint: disable=g-import-not-at-top
  from gqn_jax.runs import configs  # pylint: disable=g-import-not-at-top
  config = config_files.load("configs/rooms.py")
  config.data.camera_distance_rms = 1.0  # measured when a run starts; no size depends on it
  model = configs.build_model(config)
  batch = gqn.dummy_batch(config.data.image_size, config.data.max_context)
  key = jax.random.key(0)
  shapes = jax.eval_shape(lambda: model.init({"params": key, "sample": key}, batch, 2.0))
  num_params = sum(leaf.size for leaf in jax.tree.leaves(shapes["params"]))
  doc = (repo_dir / "docs" / "scaling.md").read_text()
  claimed = int(re.search(r"\| parameters \| \*\*([\d,]+)\*\*", doc).group(1).replace(",", ""))
  assert claimed == num_params
  megabytes = int(re.search(r"x 4 bytes = \*\*(\d+) MB\*\*", doc).group(1))
  assert megabytes == round(num_params * 4 / 1e6)


def _start_training(workdir, num_processes, extra_flags=()):
  """`python -m gqn_jax.main` on the tiny config as `num_processes` processes of one run."""
  port = _free_port()
  procs = []
  for process_id in range(num_processes):
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS="--xla_force_host_platform_device_count=2")
    if num_processes > 1:
      env.update(JAX_COORDINATOR_ADDRESS=f"localhost:{port}",
                 JAX_NUM_PROCESSES=str(num_processes), JAX_PROCESS_ID=str(process_id))
    procs.append(subprocess.Popen(
        # No evaluation before the stop and one update shape (the single process would
        # otherwise compile one per context size): compiles are most of this test's time.
        [sys.executable, "-m", "gqn_jax.main", "--config=configs/rooms.py:tiny",
         "--config.data.source=stream", "--config.train.num_steps=16",
         "--config.train.checkpoint_every=4", "--config.train.log_every=1",
         "--config.train.eval_every=16", "--config.train.eval_at_start=False",
         "--config.train.trim_context=False", f"--workdir={workdir}", *extra_flags],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
  return procs


def _finish(procs, timeout=300):
  outputs = []
  for proc in procs:
    try:
      out, _ = proc.communicate(timeout=timeout)
    finally:
      proc.kill()
    outputs.append((proc.returncode, out))
  return outputs


def test_a_sigterm_stops_every_process_at_one_step_and_another_process_count_resumes(
    tmp_path, repo_dir):
  workdir = tmp_path / "run"
  # 1. Two processes; one gets SIGTERM (a preempted host): JAX's preemption service makes both
  #    stop after the same step, with one checkpoint of it.
  procs = _start_training(workdir, 2)
  log = workdir / "metrics.jsonl"
  deadline = time.monotonic() + 300
  while not (log.exists() and '"step": 2,' in log.read_text()):
    assert procs[0].poll() is None and time.monotonic() < deadline, _finish(procs)
    time.sleep(0.1)
  procs[1].send_signal(signal.SIGTERM)  # not the main process: the notice reaches it too
  results = _finish(procs)
  assert [code for code, _ in results] == [143, 143], results
  stopped = {int(m) for _, out in results for m in re.findall(r"stopped by SIGTERM after step (\d+)",
                                                              out)}
  assert len(stopped) == 1, results  # the same step on both
  step = stopped.pop()
  assert 2 <= step < 16
  assert str(step) in os.listdir(workdir / "checkpoints")
  # 2. One process carries the run on to the end: another process count resumes the same run.
  (code, out), = _finish(_start_training(workdir, 1, ["--noreport"]))
  assert code == 0, out[-3000:]
  assert f"resumed from the checkpoint of step {step}" in out and "step 16/16" in out


def test_a_run_of_several_processes_makes_no_report_and_says_how(monkeypatch, caplog):
  from gqn_jax.trained import report  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(report, "write_report", lambda *args: pytest.fail("would hang: collective"))
  with caplog.at_level("INFO"):
    assert not report.report("/tmp/run", 100, process_count=2)
  assert "no report on a run of 2 processes" in caplog.text
  assert "python -m gqn_jax.evaluate --workdir=/tmp/run" in caplog.text
  made = []
  monkeypatch.setattr(report, "write_report", lambda *args: made.append(args))
  assert report.report("/tmp/run", 100, process_count=1) and made == [("/tmp/run", 100)]
