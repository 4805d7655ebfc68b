#!/usr/bin/env bash
# Builds everything, starts `ferry run` with the example components on the
# embedded broker, sends messages through each and prints what comes out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
BUILD_DIR=${FERRY_BUILD_DIR:-build}
FERRY="$BUILD_DIR/ferry"
SOCK="${TMPDIR:-/tmp}/ferry-demo-$$.sock"

"$FERRY" -v run --config "$BUILD_DIR/demo.toml" --control "$SOCK" &
HOST=$!
trap 'kill $HOST 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { echo "demo: ferry did not start" >&2; exit 1; }

# Starts a subscriber for one message, then runs the command that causes it.
watch_then() {  # pattern, command...
  local pattern=$1; shift
  "$FERRY" subscribe "$pattern" --count 1 --control "$SOCK" > "$SOCK.out" &
  local sub=$!
  sleep 0.3
  "$@"
  wait $sub
  sed 's/^/    /' "$SOCK.out"
}

echo
echo "== echo: publish 'hello, ferry' to echo.in, watch echo.out"
watch_then echo.out "$FERRY" publish echo.in 'hello, ferry' --header origin=demo --content-type text/plain --control "$SOCK"

echo "== transformer: publish to transform.in, watch transform.out"
watch_then transform.out "$FERRY" publish transform.in 'make me loud' --header drop-me=1 --header keep=1 --control "$SOCK"

echo "== request-reply: ask greet, expect two replies (greeter in C, shouter in C++)"
"$FERRY" request greet 'world' --replies 2 --timeout 2000 --control "$SOCK" | sed 's/^/    /'

echo "== client: the client component makes the request itself and reports to client.out"
watch_then client.out "$FERRY" publish client.in 'ferry' --control "$SOCK"

echo "== browser: a chat page whose backend is a component (examples/browser/, docs/GATEWAY.md)"
echo "    run: $FERRY run --config $BUILD_DIR/examples/browser/ferry.toml"
echo "    then open http://127.0.0.1:8787/ in two tabs"

echo "== stopping ferry with SIGTERM"
kill -TERM $HOST
wait $HOST && echo "ferry exited 0"
trap - EXIT
rm -f "$SOCK.out"
