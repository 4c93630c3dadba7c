#!/usr/bin/env bash
# Delete the TPU VM / pod slice created by launch/tpu_vm.sh (its billing stops with it).
#
# Usage: launch/tpu_delete.sh [--yes] [--dry-run]
#
# Only the TPU goes: the run directories (checkpoints, metrics) on gs://BUCKET stay, so a later
# launch/tpu_vm.sh --workdir=<old WORKDIR> resumes the run on a new TPU.
#
# Required environment variables: PROJECT, ZONE, TPU_NAME (as for launch/tpu_vm.sh).
#
# Flags:
#   --yes       do not ask for confirmation
#   --dry-run   print the command without running it
#   --help      this text
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

confirm=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) print_help; exit 0 ;;
    --dry-run) DRY_RUN=1 ;;
    --yes) confirm=(--quiet) ;;
    *) die "unknown argument '$1'; see ${SCRIPT_NAME} --help" ;;
  esac
  shift
done
require_vars PROJECT ZONE TPU_NAME

run gcloud compute tpus tpu-vm delete "${TPU_NAME}" --project="${PROJECT}" --zone="${ZONE}" \
  ${confirm[@]+"${confirm[@]}"}
