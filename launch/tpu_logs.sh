#!/usr/bin/env bash
# Stream the training log of a run started by launch/tpu_vm.sh.
#
# Usage: launch/tpu_logs.sh [--worker=N|all] [--run=RUN_NAME] [--lines=N] [--dry-run]
#
# Follows ~/gqn_logs/<run>.log on one worker (default worker 0, the only one that logs metrics)
# or on all of them (--worker=all; lines of different workers interleave). Without --run it
# follows the newest run (~/gqn_logs/latest.log). Ctrl-C stops the stream, not the training.
#
# Required environment variables: PROJECT, ZONE, TPU_NAME (as for launch/tpu_vm.sh).
#
# Flags:
#   --worker=N|all   which worker's log; default 0
#   --run=NAME       a run's name, the last part of its WORKDIR (e.g. gqn-20250101-120000)
#   --lines=N        lines of history to print before following; default 100
#   --dry-run        print the command without running it
#   --help           this text
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

WORKER=0
RUN_NAME=latest
LINES=100
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) print_help; exit 0 ;;
    --dry-run) DRY_RUN=1 ;;
    --worker=*) WORKER="${1#--worker=}" ;;
    --run=*) RUN_NAME="${1#--run=}" ;;
    --lines=*) LINES="${1#--lines=}" ;;
    *) die "unknown argument '$1'; see ${SCRIPT_NAME} --help" ;;
  esac
  shift
done
require_vars PROJECT ZONE TPU_NAME
[[ "${WORKER}" == all || "${WORKER}" =~ ^[0-9]+$ ]] || die "--worker=${WORKER} must be a number or 'all'"
[[ "${LINES}" =~ ^[0-9]+$ ]] || die "--lines=${LINES} must be a number"
[[ "${RUN_NAME}" =~ ^[A-Za-z0-9_.-]+$ ]] || die "--run=${RUN_NAME} must be a run name like" \
  "gqn-20250101-120000 (the last part of the WORKDIR), not a path"

run gcloud compute tpus tpu-vm ssh "${TPU_NAME}" --project="${PROJECT}" --zone="${ZONE}" \
  --worker="${WORKER}" --command="tail -n ${LINES} -F ~/gqn_logs/${RUN_NAME}.log"
