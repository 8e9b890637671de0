# Shared by the plugin end-to-end scripts: a temp dir and a bounded wait on
# the JSON event stream of `hotbox watch --json` (fd 3), no sleeps.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-plugins-XXXXXX")
trap '[ -n "${HB_TEST_KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail=0

# wait_event PATTERN: reads events until a line matches (a bash glob), at
# most 60 s; the matching line is in $line. Returns 1 on timeout/EOF.
wait_event() {
  local deadline=$((SECONDS + 60))
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

# must_event DESCRIPTION PATTERN: like check + wait_event, but gives up the
# whole test at once (later steps would only wait in vain).
must_event() {
  if wait_event "$2"; then
    echo "ok: $1"
  else
    echo "FAIL: $1 (no event matching $2 within 60 s)"
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null
    cat "$tmp/log" "$tmp/err" 2>/dev/null
    exit 1
  fi
}
