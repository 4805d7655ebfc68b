#!/usr/bin/env bash
# `ferry new NAME --lang LANG --world WORLD`, built with the project's one
# command (./build.sh) and run with `ferry run`: a message published to
# NAME.in (or a request) shows the handler's effect. The async worlds (WASI
# 0.3) do the same as core and request-reply with an async handler.
#   new_template_test.sh FERRY LANG WORLD
set -euo pipefail
FERRY=$1 LANG_=$2 WORLD=$3
name="t${LANG_}-${WORLD//./}"
work=$(mktemp -d)
run_pid="" sub_pid=""
cleanup() {
  [ -z "$sub_pid" ] || kill "$sub_pid" 2>/dev/null || true
  [ -z "$run_pid" ] || kill "$run_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ ! -f "$work/run.log" ] || { echo "--- ferry run log:" >&2; cat "$work/run.log" >&2; }
  exit 1
}
deadline=$((SECONDS + 600))  # a Python or JS component compiles for minutes on a loaded machine
in_time() { [ $SECONDS -lt $deadline ] || fail "$1 within 600 s"; }
cd "$work"

"$FERRY" new "$name" --lang "$LANG_" --world "$WORLD" > new.out || fail "ferry new exited $?"
grep -q "^next: cd $name && ./build.sh && ferry run $name.wasm" new.out || fail "no next step: $(cat new.out)"
(cd "$name" && ./build.sh) || fail "build.sh exited $?"
[ -s "$name/$name.wasm" ] || fail "build.sh wrote no $name.wasm"
case $WORLD in
  async*)  # the async shape, as Ferry tells it by the functions' types
    shape=$("$FERRY" inspect "$name/$name.wasm" | grep '^shape:') || fail "ferry inspect gave no shape"
    [[ "$shape" == *"0.2.0-draft, async"* ]] || fail "not the async shape: $shape" ;;
esac

export FERRY_CONTROL_SOCKET="$work/ferry.sock"
args=()
[ "$WORLD" = 0.1.0 ] || args=(-s "$name.in")  # 0.1.0 components subscribe in configure()
"$FERRY" run "$name/$name.wasm" "${args[@]}" 2> run.log &
run_pid=$!
# The control socket opens once the component is subscribed.
until [ -S "$FERRY_CONTROL_SOCKET" ]; do
  kill -0 "$run_pid" 2>/dev/null || fail "ferry run exited"
  in_time "ferry run ready"
  sleep 0.1
done

if [ "$WORLD" = request-reply ] || [ "$WORLD" = async-request-reply ]; then
  reply=$("$FERRY" request "$name.in" world --timeout 20000) || fail "request failed: $reply"
  [[ "$reply" == *"hello, world"* ]] || fail "reply was: $reply"
  echo "request answered: $reply"
  exit 0
fi

"$FERRY" subscribe "$name.out" -n 1 --json > sub.out 2> sub.err &
sub_pid=$!
# The subscriber is in place some time after it starts: publish until the
# handler's output reaches it.
until [ -s sub.out ]; do
  kill -0 "$sub_pid" 2>/dev/null || [ -s sub.out ] || fail "ferry subscribe exited: $(cat sub.err)"
  in_time "a message on $name.out"
  "$FERRY" publish "$name.in" hello || fail "publish failed"
  sleep 0.2
done
wait "$sub_pid" || true
sub_pid=""
out=$(cat sub.out)
[[ "$out" == *'"data":"HELLO"'* ]] || fail "handler output: $out"
if [ "$WORLD" = core ] || [ "$WORLD" = async ]; then
  [[ "$out" == *"[\"handled-by\",\"$name\"]"* ]] || fail "no handled-by metadata: $out"
fi
echo "handler output: $out"
