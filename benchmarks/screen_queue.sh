#!/usr/bin/env bash
# Runs the arms of a learning screen one at a time, in file order, each once.
#
#   bash benchmarks/screen_queue.sh QUEUE_FILE OUT_ROOT
#
# QUEUE_FILE: one arm per line, "NAME ARGS...", ARGS passed to `benchmarks/learning.py run` after
# the --out=OUT_ROOT/NAME it adds, or "NAME bash: COMMAND" for any other job that must have the
# machine to itself (a benchmark); its stdout goes to OUT_ROOT/NAME/stdout.txt. Blank lines and
# lines starting with # are skipped. The file is
# read again after every arm, so arms may be appended while the queue runs; an arm whose
# OUT_ROOT/NAME/summary.json exists is done and skipped, so a stopped queue restarts where it was.
# Each arm's console goes to OUT_ROOT/NAME.log. The arms run with $PYTHON (default: python3, or
# python where there is no python3): set PYTHON=/path/to/venv/bin/python for an environment that
# is not activated.
set -uo pipefail
queue_file=$1
out_root=$2
python=${PYTHON:-$(command -v python3 || command -v python)}
mkdir -p "$out_root"
while true; do
  next=""
  while read -r name args; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    if [[ ! -f "$out_root/$name/summary.json" ]]; then next="$name $args"; break; fi
  done < "$queue_file"
  [[ -z "$next" ]] && break
  read -r name args <<< "$next"
  echo "$(date -u +%FT%TZ) start $name: $args"
  if [[ "$args" == bash:* ]]; then
    mkdir -p "$out_root/$name"
    bash -c "${args#bash:}" > "$out_root/$name/stdout.txt" 2> "$out_root/$name.log"
    status=$?
    [[ $status -eq 0 ]] && echo '{"command": "done"}' > "$out_root/$name/summary.json"
  else
    # shellcheck disable=SC2086  # ARGS are words on purpose
    "$python" benchmarks/learning.py run --out="$out_root/$name" $args > "$out_root/$name.log" 2>&1
    status=$?
  fi
  echo "$(date -u +%FT%TZ) end $name: exit $status"
  if [[ $status -ne 0 ]]; then
    mkdir -p "$out_root/$name" && echo "{\"failed\": $status}" > "$out_root/$name/summary.json"
  fi
done
