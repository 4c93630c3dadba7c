#!/usr/bin/env bash
# Train GQN on a Cloud TPU VM or pod slice, started from your laptop.
#
# Usage: launch/tpu_vm.sh [--spot] [--keep-alive] [--workdir=gs://...] [--replace] [--follow]
#                         [--dry-run] [--] [ARGS for python -m gqn_jax.main ...]
#
# Creates the TPU (or reuses it when it is READY; a preempted spot TPU is deleted and created
# again), copies this checkout to every worker, installs it into ~/gqn_venv (Python 3.11 via uv,
# plus jax[tpu] at the installed jax version) on every worker, and starts
#   python -m gqn_jax.main --workdir=WORKDIR ARGS
# on all workers at once (--worker=all), detached, with GQN_DISTRIBUTED=1 so that every host joins
# jax.distributed. Each worker logs to ~/gqn_logs/<run>.log (also ~/gqn_logs/latest.log); stream
# them with launch/tpu_logs.sh. Checkpoints, metrics and config go to WORKDIR on GCS.
#
# Required environment variables:
#   PROJECT            Google Cloud project id
#   ZONE               zone with TPU quota, e.g. us-central2-b (v4) or us-west4-a (v5e)
#   TPU_NAME           name of the TPU VM / pod slice to create or reuse
#   BUCKET             GCS bucket for run directories (name or gs://name), ideally in ZONE's region;
#                      the TPU's service account needs write access to it
# Optional:
#   ACCELERATOR_TYPE   default v4-8 (one host, 4 chips); v4-32 is 4 hosts, v5litepod-16 is 4 hosts
#   RUNTIME_VERSION    TPU software version; default from ACCELERATOR_TYPE: tpu-ubuntu2204-base
#                      (v2-v4), v2-alpha-tpuv5-lite (v5litepod), v2-alpha-tpuv5 (v5p),
#                      v2-alpha-tpuv6e (v6e)
#   WORKDIR            run directory; default gs://BUCKET/gqn_jax/runs/TPU_NAME-<UTC timestamp>
#   DATA_ROOT          if set, adds --config.data.root=DATA_ROOT (e.g. gs://BUCKET/gqn-datasets)
#   SPOT=1             same as --spot
#   KEEP_ALIVE_POLL    seconds between --keep-alive checks; default 300
#
# Flags:
#   --spot             create spot (preemptible) capacity. Training resumes from the newest
#                      checkpoint in WORKDIR, so after a preemption re-run the same command with
#                      the same --workdir (printed at the end) and it picks up where it stopped.
#   --keep-alive       stay in the foreground after starting and keep the run going until it
#                      reaches num_steps: every KEEP_ALIVE_POLL seconds look at the TPU and the
#                      newest checkpoint in WORKDIR; a preempted TPU is created again and the same
#                      command restarted on the same WORKDIR (training resumes from its newest
#                      checkpoint; SIGTERM at preemption saves the step in flight). Stops with an
#                      error when a restarted run makes no progress (a crash, not a preemption).
#   --workdir=URL      run directory (overrides WORKDIR); pass the old one to resume
#   --replace          stop a run still active on the workers instead of refusing to start
#   --follow           stream worker 0's log after starting (same as launch/tpu_logs.sh)
#   --dry-run          print the commands without running any of them
#   --help             this text
#   --                 everything after it goes to gqn_jax.main; unknown arguments do too
#
# Example:
#   PROJECT=my-proj ZONE=us-central2-b TPU_NAME=gqn BUCKET=my-bucket \
#     launch/tpu_vm.sh --spot --config=configs/rooms.py --config.train.batch_size=144
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

SPOT="${SPOT:-0}"
REPLACE=0
FOLLOW=0
KEEP_ALIVE=0
KEEP_ALIVE_POLL="${KEEP_ALIVE_POLL:-300}"
RELAUNCH_ARGS=()  # this command's arguments but --keep-alive: what a relaunch runs
for arg in "$@"; do
  [[ "${arg}" == --keep-alive ]] || RELAUNCH_ARGS+=("${arg}")
done
MAIN_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) print_help; exit 0 ;;
    --dry-run) DRY_RUN=1 ;;
    --spot) SPOT=1 ;;
    --keep-alive) KEEP_ALIVE=1 ;;
    --replace) REPLACE=1 ;;
    --follow) FOLLOW=1 ;;
    --workdir=*) WORKDIR="${1#--workdir=}" ;;
    --workdir) [[ $# -ge 2 ]] || die "--workdir needs a value"; WORKDIR="$2"; shift ;;
    --) shift; MAIN_ARGS+=("$@"); break ;;
    *) MAIN_ARGS+=("$1") ;;
  esac
  shift
done

require_vars PROJECT ZONE TPU_NAME BUCKET
BUCKET="${BUCKET#gs://}"
BUCKET="${BUCKET%/}"
ACCELERATOR_TYPE="${ACCELERATOR_TYPE:-v4-8}"
if [[ -z "${RUNTIME_VERSION:-}" ]]; then
  case "${ACCELERATOR_TYPE}" in
    v2-*|v3-*|v4-*) RUNTIME_VERSION=tpu-ubuntu2204-base ;;
    v5litepod-*) RUNTIME_VERSION=v2-alpha-tpuv5-lite ;;
    v5p-*) RUNTIME_VERSION=v2-alpha-tpuv5 ;;
    v6e-*) RUNTIME_VERSION=v2-alpha-tpuv6e ;;
    *) die "no default TPU software version for ACCELERATOR_TYPE=${ACCELERATOR_TYPE};" \
      "set RUNTIME_VERSION (see https://cloud.google.com/tpu/docs/runtimes)" ;;
  esac
fi
RUN_ID="${TPU_NAME}-$(date -u +%Y%m%d-%H%M%S)"
WORKDIR="${WORKDIR:-gs://${BUCKET}/gqn_jax/runs/${RUN_ID}}"
[[ "${WORKDIR}" == gs://* ]] || die "WORKDIR=${WORKDIR} must be a gs:// URL: every TPU host" \
  "writes its part of each checkpoint there"
RUN_NAME=$(basename "${WORKDIR}")
[[ "${RUN_NAME}" =~ ^[A-Za-z0-9_.-]+$ ]] || die "the last part of WORKDIR=${WORKDIR} names the" \
  "run's log file; use only letters, digits and . _ -"
if [[ -n "${DATA_ROOT:-}" ]]; then
  MAIN_ARGS+=("--config.data.root=${DATA_ROOT}")
fi

REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARBALL="${TMPDIR:-/tmp}/gqn_jax_src_${RUN_NAME}.tgz"
GCLOUD_AT=(--project="${PROJECT}" --zone="${ZONE}")
TPU_VM=(gcloud compute tpus tpu-vm)

# --- the TPU: reuse it when READY, recreate it after a spot preemption, create it when absent.
run gcloud storage buckets describe "gs://${BUCKET}" --project="${PROJECT}" --format='value(name)'
if [[ "${DRY_RUN}" == 1 ]]; then
  echo "# (dry run: assuming ${TPU_NAME} does not exist yet)" >&2
  state=""
else
  state=$("${TPU_VM[@]}" describe "${TPU_NAME}" "${GCLOUD_AT[@]}" --format='value(state)' \
    2>/dev/null || true)
fi
case "${state}" in
  READY) echo "reusing ${TPU_NAME} (READY)" >&2 ;;
  PREEMPTED|TERMINATED)
    echo "${TPU_NAME} is ${state}; deleting it and creating it again" >&2
    run "${TPU_VM[@]}" delete "${TPU_NAME}" "${GCLOUD_AT[@]}" --quiet
    state="" ;;
  "") ;;
  *) die "${TPU_NAME} is in state ${state}; wait until it is READY, or delete it with" \
    "launch/tpu_delete.sh and run again" ;;
esac
if [[ -z "${state}" ]]; then
  capacity=()
  if [[ "${SPOT}" == 1 ]]; then
    capacity=(--spot)
  fi
  run "${TPU_VM[@]}" create "${TPU_NAME}" "${GCLOUD_AT[@]}" \
    --accelerator-type="${ACCELERATOR_TYPE}" --version="${RUNTIME_VERSION}" \
    ${capacity[@]+"${capacity[@]}"}
fi

# --- this checkout (tracked and untracked-but-not-ignored files) onto every worker, installed.
if [[ "${DRY_RUN}" == 0 ]]; then
  trap 'rm -f "${TARBALL}"' EXIT
fi
run bash -c "git -C $(printf %q "${REPO_ROOT}") ls-files -z --cached --others --exclude-standard \
| tar -C $(printf %q "${REPO_ROOT}") --null -T - -czf $(printf %q "${TARBALL}")"
run "${TPU_VM[@]}" scp "${TARBALL}" "${TPU_NAME}:gqn_jax_src.tgz" "${GCLOUD_AT[@]}" --worker=all
# Remote scripts run in each worker's login shell (bash); \$ marks what expands there, not here.
# (Functions rather than $(cat <<EOF) keep bash 3.2 from misparsing the parentheses inside.)
install_script() {
  cat <<EOF
set -euo pipefail
rm -rf ~/gqn_jax && mkdir -p ~/gqn_jax && tar -xzf ~/gqn_jax_src.tgz -C ~/gqn_jax
python3 -m pip install --user --quiet --upgrade uv
[ -x ~/gqn_venv/bin/python ] || ~/.local/bin/uv venv --python 3.11 ~/gqn_venv
~/.local/bin/uv pip install --quiet --python ~/gqn_venv/bin/python -e ~/gqn_jax
jax_version=\$(~/gqn_venv/bin/python -c 'import jax; print(jax.__version__)')
~/.local/bin/uv pip install --quiet --python ~/gqn_venv/bin/python "jax[tpu]==\${jax_version}"
EOF
}

# What a worker does when an earlier run is still alive there: stop it, or refuse.
on_active_run() {
  if [[ "${REPLACE}" == 1 ]]; then
    cat <<'EOF'
  kill "${old_pid}"
  while kill -0 "${old_pid}" 2>/dev/null; do sleep 1; done
  rm -f /tmp/libtpu_lockfile
EOF
  else
    cat <<'EOF'
  echo "a gqn_jax run (pid ${old_pid}) is still active on $(hostname); rerun with --replace to stop it" >&2
  exit 1
EOF
  fi
}

start_script() {
  local main_args
  main_args=$(printf ' %q' "--workdir=${WORKDIR}" ${MAIN_ARGS[@]+"${MAIN_ARGS[@]}"})
  cat <<EOF
set -euo pipefail
mkdir -p ~/gqn_logs
cd ~/gqn_jax
old_pid=\$(cat ~/gqn_logs/train.pid 2>/dev/null || true)
if [ -n "\${old_pid}" ] && kill -0 "\${old_pid}" 2>/dev/null; then
$(on_active_run)
fi
GQN_DISTRIBUTED=1 setsid nohup ~/gqn_venv/bin/python -m gqn_jax.main${main_args} \\
  > ~/gqn_logs/${RUN_NAME}.log 2>&1 < /dev/null &
echo \$! > ~/gqn_logs/train.pid
ln -sf ${RUN_NAME}.log ~/gqn_logs/latest.log
echo "started on \$(hostname): ~/gqn_logs/${RUN_NAME}.log"
EOF
}

run "${TPU_VM[@]}" ssh "${TPU_NAME}" "${GCLOUD_AT[@]}" --worker=all --command="$(install_script)"
# --- the run, on all workers at once, detached so that it outlives this ssh session.
run "${TPU_VM[@]}" ssh "${TPU_NAME}" "${GCLOUD_AT[@]}" --worker=all --command="$(start_script)"

cat >&2 <<EOF
run directory: ${WORKDIR}
logs:          PROJECT=${PROJECT} ZONE=${ZONE} TPU_NAME=${TPU_NAME} launch/tpu_logs.sh
resume with:   the same command plus --workdir=${WORKDIR}
delete TPU:    PROJECT=${PROJECT} ZONE=${ZONE} TPU_NAME=${TPU_NAME} launch/tpu_delete.sh
EOF
if [[ "${FOLLOW}" == 1 ]]; then
  dry=()
  if [[ "${DRY_RUN}" == 1 ]]; then
    dry=(--dry-run)
  fi
  "$(dirname "$0")/tpu_logs.sh" ${dry[@]+"${dry[@]}"}
fi

# --- --keep-alive: watch until the newest checkpoint reaches num_steps, relaunching as needed.
newest_step() {  # the newest checkpoint step in WORKDIR (0 when none)
  { gcloud storage ls "${WORKDIR}/checkpoints/" 2>/dev/null || true; } \
    | sed -n 's#.*/checkpoints/\([0-9][0-9]*\)/$#\1#p' | sort -n | tail -1 | grep . || echo 0
}
target_steps() {  # config.train.num_steps of the run, from WORKDIR/config.json
  gcloud storage cat "${WORKDIR}/config.json" 2>/dev/null \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["train"]["num_steps"])' \
    2>/dev/null || echo ""
}
if [[ "${KEEP_ALIVE}" == 1 ]]; then
  if [[ "${DRY_RUN}" == 1 ]]; then
    echo "# (dry run: --keep-alive would now repeat these checks every ${KEEP_ALIVE_POLL} s)" >&2
    run gcloud storage cat "${WORKDIR}/config.json"
    run gcloud storage ls "${WORKDIR}/checkpoints/"
    run "${TPU_VM[@]}" describe "${TPU_NAME}" "${GCLOUD_AT[@]}" --format='value(state)'
    # shellcheck disable=SC2016  # expands on the worker
    run "${TPU_VM[@]}" ssh "${TPU_NAME}" "${GCLOUD_AT[@]}" --worker=0 \
      --command='kill -0 "$(cat ~/gqn_logs/train.pid)"'
    exit 0
  fi
  last_restart_step=-1
  while true; do
    sleep "${KEEP_ALIVE_POLL}"
    step=$(newest_step)
    target=$(target_steps)
    if [[ -n "${target}" && "${step}" -ge "${target}" ]]; then
      echo "keep-alive: ${WORKDIR} reached step ${step} of ${target}; done" >&2
      exit 0
    fi
    state=$("${TPU_VM[@]}" describe "${TPU_NAME}" "${GCLOUD_AT[@]}" --format='value(state)' \
      2>/dev/null || true)
    # shellcheck disable=SC2016  # expands on the worker
    if [[ "${state}" == READY ]] && "${TPU_VM[@]}" ssh "${TPU_NAME}" "${GCLOUD_AT[@]}" \
        --worker=0 --command='kill -0 "$(cat ~/gqn_logs/train.pid)"' >/dev/null 2>&1; then
      continue  # training
    fi
    if [[ "${step}" == "${last_restart_step}" ]]; then
      die "keep-alive: the run stopped again at step ${step} without progress since the last" \
        "restart: not a preemption. See PROJECT=${PROJECT} ZONE=${ZONE} TPU_NAME=${TPU_NAME}" \
        "launch/tpu_logs.sh"
    fi
    last_restart_step="${step}"
    echo "keep-alive: TPU ${state:-absent}, run not active at step ${step}; relaunching" >&2
    # The same command on the same WORKDIR: it recreates a preempted TPU and resumes the run.
    "$0" ${RELAUNCH_ARGS[@]+"${RELAUNCH_ARGS[@]}"} --replace --workdir="${WORKDIR}" \
      | sed 's/^/  /' >&2 || true
  done
fi
