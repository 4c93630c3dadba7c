"""Multi-host training helpers: when to start jax.distributed, per-host batches, global arrays.

JAX's multi-controller runtime runs one Python process per host (or per GPU); every process runs
the same program, loads its own share of the data and owns its local devices. This module decides
from the environment whether this process is one of several (and then calls
`jax.distributed.initialize`, which must happen before any other JAX call), checks the batch
arithmetic, builds the run's device mesh (`make_parallelism`: one 'data' axis over every device
of every process) and turns a host's slice of the batch into one global `jax.Array`.

How a multi-process run is recognised, first match wins:

1. `GQN_DISTRIBUTED=0` never initializes; `GQN_DISTRIBUTED=1` always calls
   `jax.distributed.initialize()` and lets JAX detect the cluster (Cloud TPU VM pod slices, whose
   hosts are only discoverable through the metadata server; `launch/tpu_vm.sh` sets it).
2. `JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES`, `JAX_PROCESS_ID` (set by
   `launch/gpu_multinode.sh`): passed as given, with JAX's own cluster detection switched off so
   that a process sees all its local GPUs unless `JAX_LOCAL_DEVICE_IDS` says otherwise.
3. A SLURM job step (`srun`) with more than one task: JAX reads the SLURM variables itself and
   gives each task the GPU numbered by its local task id (one process per GPU).
4. A GKE TPU pod (`TPU_WORKER_HOSTNAMES` listing more than one host) or a multislice job.

Anything else is a single process and `maybe_initialize` does nothing.

Multi-host rules the rest of the package follows: each process reads a disjoint subset of the files
(`gqn_jax.data.pipeline.shard_files`), global batch = per-host batch x processes, only the main
process writes logs, metrics and images, and every process calls the Orbax checkpoint manager
(saving and restoring are collective).
"""

import dataclasses
import logging
import os
import re

import jax
import numpy as np

DATA_AXIS = "data"


@dataclasses.dataclass(frozen=True)
class Parallelism:
  """The device mesh and the two shardings every array of a run uses."""
  mesh: jax.sharding.Mesh
  replicated: jax.sharding.NamedSharding  # params, optimizer state, metrics
  batch: jax.sharding.NamedSharding  # leading (example) axis split over 'data'


def make_parallelism(devices=None):
  """A 1-d 'data' mesh over `devices` (default: every device of every process)."""
  devices = jax.devices() if devices is None else devices
  mesh = jax.sharding.Mesh(np.asarray(devices), (DATA_AXIS,),
                           axis_types=(jax.sharding.AxisType.Auto,))
  return Parallelism(
      mesh=mesh,
      replicated=jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()),
      batch=jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(DATA_AXIS)))

SWITCH_ENV = "GQN_DISTRIBUTED"
COORDINATOR_ENV = "JAX_COORDINATOR_ADDRESS"
NUM_PROCESSES_ENV = "JAX_NUM_PROCESSES"
PROCESS_ID_ENV = "JAX_PROCESS_ID"
_SLURM_STEP_VARS = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID",
                    "SLURM_LOCALID")


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
  """How to call jax.distributed.initialize for the detected multi-process launch."""
  method: str  # 'forced', 'explicit', 'slurm' or 'tpu': which rule of the module docstring matched
  initialize_kwargs: dict = dataclasses.field(default_factory=dict)


def _parse_int(environ, name):
  value = environ[name]
  try:
    return int(value)
  except ValueError:
    raise ValueError(f"environment variable {name}={value!r} must be an integer") from None


def _explicit_spec(environ):
  """Rule 2: the three JAX_* variables, all or none."""
  names = (COORDINATOR_ENV, NUM_PROCESSES_ENV, PROCESS_ID_ENV)
  present = [name for name in names if environ.get(name)]
  # JAX itself reads JAX_COORDINATOR_ADDRESS alone (e.g. to move the SLURM coordinator's port), so
  # only the count or the id announce an explicit launch.
  if NUM_PROCESSES_ENV not in present and PROCESS_ID_ENV not in present:
    return None
  missing = [name for name in names if name not in present]
  if missing:
    raise ValueError(
        f"multi-process launch is half configured: {', '.join(present)} set but "
        f"{', '.join(missing)} missing; set all of {', '.join(names)} (see launch/gpu_multinode.sh) "
        f"or none of them")
  num_processes = _parse_int(environ, NUM_PROCESSES_ENV)
  process_id = _parse_int(environ, PROCESS_ID_ENV)
  if num_processes < 1 or not 0 <= process_id < num_processes:
    raise ValueError(
        f"{PROCESS_ID_ENV}={process_id} must lie in 0..{NUM_PROCESSES_ENV}-1 and "
        f"{NUM_PROCESSES_ENV}={num_processes} must be at least 1")
  if num_processes == 1:
    return None
  return ClusterSpec("explicit", dict(
      coordinator_address=environ[COORDINATOR_ENV], num_processes=num_processes,
      process_id=process_id, cluster_detection_method="deactivate"))


def _is_slurm_multi_task(environ):
  if not all(name in environ for name in _SLURM_STEP_VARS):
    return False  # SLURM_STEP_NODELIST exists only inside `srun`, not in the batch script itself
  return _parse_int(environ, "SLURM_NTASKS") > 1


def _slurm_one_task_per_node(environ):
  """True when the srun step runs one task per node, e.g. SLURM_STEP_TASKS_PER_NODE='1(x4)'."""
  per_node = environ.get("SLURM_STEP_TASKS_PER_NODE", environ.get("SLURM_TASKS_PER_NODE", ""))
  return re.fullmatch(r"1(\(x\d+\))?", per_node) is not None


def _is_tpu_pod(environ):
  hosts = environ.get("TPU_PROCESS_ADDRESSES") or environ.get("TPU_WORKER_HOSTNAMES") or ""
  slices = _parse_int(environ, "MEGASCALE_NUM_SLICES") if environ.get("MEGASCALE_NUM_SLICES") else 1
  return len([host for host in hosts.split(",") if host]) > 1 or slices > 1


def detect_cluster(environ=None):
  """The ClusterSpec of a multi-process launch described by `environ`, or None for one process."""
  environ = os.environ if environ is None else environ
  switch = environ.get(SWITCH_ENV, "")
  if switch not in ("", "0", "1"):
    raise ValueError(f"{SWITCH_ENV}={switch!r} must be 0 (never initialize), 1 (always) or unset")
  if switch == "0":
    return None
  if switch == "1":
    return ClusterSpec("forced")
  explicit = _explicit_spec(environ)
  if explicit is not None:
    return explicit
  if _is_slurm_multi_task(environ):
    return ClusterSpec("slurm")
  if _is_tpu_pod(environ):
    return ClusterSpec("tpu")
  return None


def maybe_initialize(environ=None):
  """Calls jax.distributed.initialize when this is one of several processes; else does nothing.

  Call it first thing in the entry point, before anything touches a JAX device. Returns the
  ClusterSpec that was used, or None on a single process (and on a second call).
  """
  environ = os.environ if environ is None else environ
  spec = detect_cluster(environ)
  if spec is None or jax.distributed.is_initialized():
    return None
  if spec.method == "slurm" and _slurm_one_task_per_node(environ):
    logging.warning(
        "one SLURM task per node: JAX's SLURM detection gives each process only the GPU numbered "
        "by SLURM_LOCALID (0), so every node uses one GPU. Launch with launch/gpu_multinode.sh "
        "(all GPUs per process) or with one task per GPU.")
  jax.distributed.initialize(**spec.initialize_kwargs)
  logging.info("jax.distributed initialized (%s): process %d of %d, %d local devices",
               spec.method, jax.process_index(), jax.process_count(), jax.local_device_count())
  return spec


def is_main_process():
  """True on the one process that writes logs, metrics, configs and images."""
  return jax.process_index() == 0


def host_batch_size(global_batch_size, process_count=None, local_device_count=None):
  """The examples each process loads per step so that all processes together make the global batch.

  Every device gets the same number of examples, so the global batch must divide by the number of
  devices (process_count x local_device_count). Defaults are this run's values.
  """
  process_count = jax.process_count() if process_count is None else process_count
  local_device_count = (jax.local_device_count() if local_device_count is None
                        else local_device_count)
  for name, value in (("global_batch_size", global_batch_size), ("process_count", process_count),
                      ("local_device_count", local_device_count)):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
      raise ValueError(f"{name} must be a positive integer; got {value!r}")
  device_count = process_count * local_device_count
  if global_batch_size % device_count:
    lower = global_batch_size // device_count * device_count
    examples = f"{lower} or {lower + device_count}" if lower else f"{device_count}"
    raise ValueError(
        f"global batch size {global_batch_size} does not divide evenly over {device_count} devices "
        f"({process_count} processes x {local_device_count} local devices); set "
        f"config.train.batch_size to a multiple of {device_count}, e.g. {examples}")
  return global_batch_size // process_count


def make_global_batch(host_batch, sharding):
  """This process's slice of the batch (a pytree of numpy arrays) -> global jax.Arrays.

  `sharding` splits the leading (batch) axis over the devices of all processes, e.g.
  NamedSharding(mesh, PartitionSpec('data')). Each process passes different rows; the result has
  process_count times as many rows. A plain jax.device_put would instead treat each host's rows
  as the whole batch.
  """
  return jax.tree.map(
      lambda rows: jax.make_array_from_process_local_data(sharding, np.asarray(rows)), host_batch)
