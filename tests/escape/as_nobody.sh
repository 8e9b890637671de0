#!/bin/sh
# Runs an escape case as the unprivileged uid 65534 (nobody), the second of
# the two modes the escape suite runs in (the first is whoever runs CTest,
# root in CI). Usage: as_nobody.sh TEST_BINARY CASE
# Not root: the case already ran unprivileged in the first mode; skip.
# The build directory and the source tree must be readable by uid 65534.
set -eu
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: not root; the escape case already runs unprivileged"
    exit 77
fi
if ! command -v setpriv >/dev/null 2>&1; then
    echo "SKIP: setpriv (util-linux) is missing"
    exit 77
fi
as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
if ! $as_nobody test -x "$1"; then
    # A skip here, not a failure, so `make test` works from a checkout under
    # /root; .ci/run's unprivileged stage turns any skip into a failure.
    echo "SKIP: $1 is not reachable by uid 65534: the checkout and the build" \
         "directory must be readable (and their parents searchable) by others"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-escape-nobody-XXXXXX")
chmod 0777 "$tmp"
trap 'rm -rf "$tmp"' EXIT
status=0
HOME=$tmp TMPDIR=$tmp $as_nobody "$@" || status=$?
exit $status
