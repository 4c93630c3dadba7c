#!/usr/bin/env bash
#SBATCH --job-name=gqn_jax
#SBATCH --output=gqn_jax-%j.out
# Train GQN on several GPU nodes of a SLURM cluster with jax.distributed.
#
# Usage (inside an allocation; sbatch options choose its size):
#   sbatch --nodes=2 --gpus-per-node=8 launch/gpu_multinode.sh [--per-gpu] [--workdir=DIR]
#          [--dry-run] [--] [ARGS for python -m gqn_jax.main ...]
#   or, from salloc: launch/gpu_multinode.sh ...
#
# Starts `python -m gqn_jax.main --workdir=DIR ARGS` under srun on every node of the allocation:
# one process per node that drives all its GPUs (default), or with --per-gpu one process per GPU.
# Each process gets JAX_COORDINATOR_ADDRESS (first node of the allocation), JAX_NUM_PROCESSES and
# JAX_PROCESS_ID (its SLURM_PROCID), which gqn_jax.training.distributed.maybe_initialize passes to
# jax.distributed.initialize; with --per-gpu also JAX_LOCAL_DEVICE_IDS (its GPU on the node).
# Re-running with the same --workdir resumes from the newest checkpoint there.
#
# Environment (SLURM sets the first three inside an allocation):
#   SLURM_JOB_ID, SLURM_JOB_NODELIST, SLURM_JOB_NUM_NODES
#   GPUS_PER_NODE      needed with --per-gpu unless SLURM_GPUS_ON_NODE is set
#   PYTHON             interpreter with gqn_jax and jax[cuda12] installed; default python
#   WORKDIR            run directory on a file system every node sees (all processes write
#                      checkpoints); default ./runs/gqn-<UTC timestamp>-job<SLURM_JOB_ID>
#   COORDINATOR_PORT   default 61440 + SLURM_JOB_ID % 4096
#
# Flags:
#   --per-gpu          one process per GPU instead of one per node
#   --workdir=DIR      run directory (overrides WORKDIR); pass the old one to resume
#   --dry-run          print the srun command and the variables without running anything
#   --help             this text
#   --                 everything after it goes to gqn_jax.main; unknown arguments do too
set -euo pipefail
# Under sbatch, $0 is a copy in SLURM's spool directory; SLURM_SUBMIT_DIR is where sbatch ran.
script_dir=$(dirname "$0")
if [[ ! -f "${script_dir}/common.sh" && -n "${SLURM_SUBMIT_DIR:-}" ]]; then
  script_dir="${SLURM_SUBMIT_DIR}/launch"
fi
if [[ ! -f "${script_dir}/common.sh" ]]; then
  echo "$(basename "$0"): error: cannot find launch/common.sh next to the script or under" \
    "SLURM_SUBMIT_DIR='${SLURM_SUBMIT_DIR:-}'; submit from the repository root:" \
    "sbatch ... launch/gpu_multinode.sh ..." >&2
  exit 2
fi
# shellcheck source-path=SCRIPTDIR source=common.sh
source "${script_dir}/common.sh"

PER_GPU=0
MAIN_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) print_help; exit 0 ;;
    --dry-run) DRY_RUN=1 ;;
    --per-gpu) PER_GPU=1 ;;
    --workdir=*) WORKDIR="${1#--workdir=}" ;;
    --workdir) [[ $# -ge 2 ]] || die "--workdir needs a value"; WORKDIR="$2"; shift ;;
    --) shift; MAIN_ARGS+=("$@"); break ;;
    *) MAIN_ARGS+=("$1") ;;
  esac
  shift
done

if [[ -z "${SLURM_JOB_ID:-}" ]]; then
  die "not inside a SLURM allocation (SLURM_JOB_ID is not set); submit with" \
    "sbatch --nodes=N --gpus-per-node=G ${SCRIPT_NAME} ARGS, or run it from salloc"
fi
require_vars SLURM_JOB_NODELIST SLURM_JOB_NUM_NODES
[[ "${SLURM_JOB_ID}" =~ ^[0-9]+$ ]] || die "SLURM_JOB_ID=${SLURM_JOB_ID} is not a number"
[[ "${SLURM_JOB_NUM_NODES}" =~ ^[1-9][0-9]*$ ]] || die "SLURM_JOB_NUM_NODES=${SLURM_JOB_NUM_NODES}" \
  "is not a positive number"

# The first host of a SLURM node list: 'gpu[003-004,010],cpu1' -> gpu003, 'a1,a2' -> a1.
first_host() {
  local list="$1" prefix rest
  prefix="${list%%[\[,]*}"
  if [[ "${list:${#prefix}:1}" == "[" ]]; then
    rest="${list:$((${#prefix} + 1))}"
    echo "${prefix}${rest%%[-,\]]*}"
  else
    echo "${prefix}"
  fi
}

num_nodes="${SLURM_JOB_NUM_NODES}"
tasks_per_node=1
if [[ "${PER_GPU}" == 1 ]]; then
  tasks_per_node="${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-}}"
  [[ "${tasks_per_node}" =~ ^[1-9][0-9]*$ ]] || die "--per-gpu needs the number of GPUs per" \
    "node: set GPUS_PER_NODE (SLURM_GPUS_ON_NODE is '${SLURM_GPUS_ON_NODE:-}')"
fi
num_processes=$((num_nodes * tasks_per_node))
coordinator="${COORDINATOR_HOST:-$(first_host "${SLURM_JOB_NODELIST}")}"
port="${COORDINATOR_PORT:-$((61440 + SLURM_JOB_ID % 4096))}"
WORKDIR="${WORKDIR:-${PWD}/runs/gqn-$(date -u +%Y%m%d-%H%M%S)-job${SLURM_JOB_ID}}"
PYTHON="${PYTHON:-python}"

export JAX_COORDINATOR_ADDRESS="${coordinator}:${port}"
export JAX_NUM_PROCESSES="${num_processes}"
# SLURM_PROCID and SLURM_LOCALID exist only inside each srun task, so the task sets its own id
# (and with --per-gpu, its GPU: the node-local task number, or 0 when SLURM already narrowed
# CUDA_VISIBLE_DEVICES to one GPU per task).
# shellcheck disable=SC2016
task_setup='export JAX_PROCESS_ID="${SLURM_PROCID}"'
if [[ "${PER_GPU}" == 1 ]]; then
  # shellcheck disable=SC2016
  task_setup+='
if [[ -n "${CUDA_VISIBLE_DEVICES:-}" && "${CUDA_VISIBLE_DEVICES}" != *,* ]]; then
  export JAX_LOCAL_DEVICE_IDS=0
else
  export JAX_LOCAL_DEVICE_IDS="${SLURM_LOCALID}"
fi'
fi
task_setup+='
exec "$@"'

echo "${num_nodes} nodes x ${tasks_per_node} processes per node; run directory: ${WORKDIR}" >&2
echo "+ export JAX_COORDINATOR_ADDRESS=${JAX_COORDINATOR_ADDRESS} JAX_NUM_PROCESSES=${JAX_NUM_PROCESSES}"
run srun --nodes="${num_nodes}" --ntasks="${num_processes}" --ntasks-per-node="${tasks_per_node}" \
  --kill-on-bad-exit=1 bash -c "${task_setup}" gqn_jax_task \
  "${PYTHON}" -m gqn_jax.main "--workdir=${WORKDIR}" ${MAIN_ARGS[@]+"${MAIN_ARGS[@]}"}
