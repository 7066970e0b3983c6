# Shared by the e2e scripts (sourced, never run on its own): paths, a scratch directory and a free
# port, cleanup that kills the server, and the check helpers that count and print results.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
BIN="${STARBLOOM_BIN:-$ROOT/.build/debug/starbloom}"
WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
SERVER_PID=""
failures=0; checks=0

cleanup() {
    [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

check() { # check "description" command...
    local what="$1"; shift
    checks=$((checks + 1))
    if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; failures=$((failures + 1)); fi
}
contains() { grep -qi -- "$2" <<<"$1"; } # case-insensitive: header names differ in case
equals() { [ "$1" = "$2" ] || { echo "     expected '$2', got '$1'"; return 1; }; }
