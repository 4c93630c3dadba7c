#!/usr/bin/env bash
# Download a DeepMind GQN dataset (all of it, or the first N files of each split) with gsutil.
#
# Usage: launch/download_data.sh DATASET [ROOT] [--files N] [--dry-run]
#
# Copies gs://gqn-dataset/DATASET/{train,test}/ into ROOT/DATASET/{train,test}/, keeping DeepMind's
# file names (<i>-of-<n>.tfrecord), which is the layout gqn_jax.data.reader and tfds_builders/
# read; a partial download (--files) is a valid dataset too. Files already present are skipped (cp -n),
# so an interrupted download resumes when run again. ROOT may be a gs:// URL to copy the data into
# your own bucket next to your TPUs.
#
#   DATASET    one of: jaco mazes rooms_free_camera_with_object_rotations rooms_ring_camera
#              rooms_free_camera_no_object_rotations shepard_metzler_5_parts
#              shepard_metzler_7_parts
#   ROOT       default $GQN_DATA_DIR, else ~/gqn-datasets (where gqn_jax.main looks by default)
#
# Flags:
#   --files N  only the first N files of each split (all of a split that has fewer)
#   --dry-run  print the commands without running them
#   --help     this text
# Environment:
#   SOURCE     where the datasets are; default gs://gqn-dataset
#
# Example: launch/download_data.sh rooms_ring_camera --files 20   # about 1% of the train split
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

# Files per split as DeepMind published them; tests/test_launch.py checks this against
# gqn_jax/data/records.py.
split_sizes() {
  case "$1" in
    jaco) echo "3600 400" ;;
    mazes) echo "1080 120" ;;
    rooms_free_camera_with_object_rotations) echo "2034 226" ;;
    rooms_ring_camera) echo "2160 240" ;;
    rooms_free_camera_no_object_rotations) echo "2160 240" ;;
    shepard_metzler_5_parts) echo "900 100" ;;
    shepard_metzler_7_parts) echo "900 100" ;;
    *) return 1 ;;
  esac
}

positional=()
NUM_FILES=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) print_help; exit 0 ;;
    --dry-run) DRY_RUN=1 ;;
    --files=*) NUM_FILES="${1#--files=}" ;;
    --files) [[ $# -ge 2 ]] || die "--files needs a number"; NUM_FILES="$2"; shift ;;
    -*) die "unknown flag '$1'; see ${SCRIPT_NAME} --help" ;;
    *) positional+=("$1") ;;
  esac
  shift
done
[[ ${#positional[@]} -ge 1 ]] || die "missing DATASET; usage: ${SCRIPT_NAME} DATASET [ROOT]" \
  "[--files N]; see --help for the dataset names"
[[ ${#positional[@]} -le 2 ]] || die "too many arguments: ${positional[*]}; usage:" \
  "${SCRIPT_NAME} DATASET [ROOT] [--files N]"
DATASET="${positional[0]}"
ROOT="${positional[1]:-${GQN_DATA_DIR:-${HOME}/gqn-datasets}}"
ROOT="${ROOT%/}"
SOURCE="${SOURCE:-gs://gqn-dataset}"
sizes=$(split_sizes "${DATASET}") || die "unknown dataset '${DATASET}'; known datasets: jaco" \
  "mazes rooms_free_camera_with_object_rotations rooms_ring_camera" \
  "rooms_free_camera_no_object_rotations shepard_metzler_5_parts shepard_metzler_7_parts"
if [[ -n "${NUM_FILES}" ]]; then
  [[ "${NUM_FILES}" =~ ^[1-9][0-9]*$ ]] || die "--files ${NUM_FILES} must be a positive number"
fi

# gsutil reads the list of sources from stdin (-I): one process, and no argument-length limit.
copy_listed() {
  local dest="$1" listing
  shift
  listing=$(printf '%s\n' "$@")
  if [[ "${DRY_RUN}" == 1 ]]; then
    echo "+ $(quote_cmd gsutil -m cp -n -I "${dest}/") <<'EOF'"
    echo "${listing}"
    echo "EOF"
  else
    echo "+ $(quote_cmd gsutil -m cp -n -I "${dest}/") < ($# files)" >&2
    echo "${listing}" | gsutil -m cp -n -I "${dest}/"
  fi
}

read -r train_files test_files <<< "${sizes}"
for split in train test; do
  total="${train_files}"
  if [[ "${split}" == test ]]; then
    total="${test_files}"
  fi
  dest="${ROOT}/${DATASET}/${split}"
  if [[ "${dest}" != gs://* ]]; then
    run mkdir -p "${dest}"
  fi
  if [[ -z "${NUM_FILES}" ]]; then
    run gsutil -m cp -n "${SOURCE}/${DATASET}/${split}/*.tfrecord" "${dest}/"
    continue
  fi
  count=$((NUM_FILES < total ? NUM_FILES : total))
  urls=()
  for ((i = 1; i <= count; i++)); do
    # Zero-padded to the width of the file count, as in gqn_jax.data.records.shard_filename.
    printf -v url '%s/%s/%s/%0*d-of-%s.tfrecord' "${SOURCE}" "${DATASET}" "${split}" \
      "${#total}" "${i}" "${total}"
    urls+=("${url}")
  done
  copy_listed "${dest}" "${urls[@]}"
done
echo "dataset in ${ROOT}/${DATASET}; train with --config.data.root=${ROOT}" >&2
