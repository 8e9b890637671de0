# Shared by the plugin end-to-end scripts: a temp dir and a bounded wait on
# the JSON event stream of `hotbox watch --json` (fd 3), no sleeps.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-plugins-XXXXXX")
trap '[ -n "${HB_TEST_KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail=0

# wait_event PATTERN: reads events until a line matches (a bash glob), at
# most 120 s; the matching line is in $line. Returns 1 on timeout/EOF.
wait_event() {
  local deadline=$((SECONDS + 120))
  while ((SECONDS < deadline)); do
    IFS= read -t $((deadline - SECONDS)) -r line <&3 || return 1
    echo "$line" >>"$tmp/log"
    # shellcheck disable=SC2053
    [[ $line == $1 ]] && return 0
  done
  return 1
}

check() { # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}
