# shellcheck shell=bash
# Helpers shared by the launch/ scripts: errors, required variables, --help, --dry-run.
#
# Sourced, never run. Written for bash 3.2 as well (the bash of macOS laptops): no associative
# arrays, no ${var@Q}, and empty arrays are expanded as "${a[@]+"${a[@]}"}".

SCRIPT_NAME=$(basename "$0")
DRY_RUN=0

die() {
  echo "${SCRIPT_NAME}: error: $*" >&2
  exit 2
}

# The script's header comment (line 2 up to the first line that is not a comment, without
# #SBATCH directives) is its --help.
print_help() {
  sed -n '2,/^[^#]/p' "$0" | sed -e '/^[^#]/d' -e '/^#SBATCH/d' -e 's/^# \{0,1\}//'
}

# Dies naming every unset variable in "$@" at once, with the script's own hint for each.
require_vars() {
  local missing=() name
  for name in "$@"; do
    if [[ -z "${!name:-}" ]]; then
      missing+=("${name}")
    fi
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    die "required variable(s) not set: ${missing[*]}. Export them or put them before the command," \
      "e.g. ${missing[0]}=... ${SCRIPT_NAME} ...; see ${SCRIPT_NAME} --help"
  fi
}

# Prints the arguments as one shell command a user can paste: plain words stay bare, anything
# else is single-quoted.
quote_cmd() {
  local out="" arg
  for arg in "$@"; do
    if [[ "${arg}" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
      out+="${arg} "
    else
      out+="'${arg//\'/\'\\\'\'}' "
    fi
  done
  echo "${out% }"
}

# Runs a command, echoing it first; under --dry-run only prints it (on stdout, for the tests).
run() {
  if [[ "${DRY_RUN}" == 1 ]]; then
    echo "+ $(quote_cmd "$@")"
  else
    echo "+ $(quote_cmd "$@")" >&2
    "$@"
  fi
}
