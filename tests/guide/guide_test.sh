#!/usr/bin/env bash
# Runs docs/GUIDE.md: every ```sh block, in order, in one bash session with
# `set -e`, and checks that each line of a ```text block shows up in the
# output of the command just before it. The guide's first block runs in the
# source tree (with this build folder); the rest in a temporary folder.
# Where a person would wait a moment before typing on, the script waits for
# the condition itself: after a background `nats-server`, until its port
# accepts connections; after a background `ferry run`, until its control
# socket exists. Port 4222 becomes a free port, so runs never collide.
#   guide_test.sh SOURCE_DIR BUILD_DIR BUILD_TYPE
set -euo pipefail
SOURCE=$1 BUILD=$2 BUILD_TYPE=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

script="$work/guide.sh"
python3 - "$SOURCE/docs/GUIDE.md" "$script" "$port" "$BUILD" <<'PY'
import re, shlex, sys
guide, out, port, build = sys.argv[1:]
text = open(guide).read()
blocks = re.findall(r"```(\w*)\n(.*?)```", text, re.S)
lines = []
emit = lines.append
step = 0
for i, (lang, body) in enumerate(blocks):
    if lang != "sh":
        continue
    step += 1
    body = body.replace("4222", port).replace("$PWD/build", build)
    expect = blocks[i + 1][1] if i + 1 < len(blocks) and blocks[i + 1][0] == "text" else None
    src = body.rstrip("\n").split("\n")
    heredoc = None
    for n, line in enumerate(src):
        last = n == len(src) - 1
        if heredoc:
            emit(line)
            if line == heredoc:
                heredoc = None
            continue
        m = re.search(r"<<'(\w+)'", line)
        if m:
            heredoc = m.group(1)
            emit(line)
            continue
        emit("echo " + shlex.quote("$ " + line))
        if last and expect is not None:
            emit(f"{{ {line}\n}} > \"$GUIDE_OUT\" 2>&1; cat \"$GUIDE_OUT\"")
            for want in expect.strip("\n").split("\n"):
                emit(f"grep -qF -- {shlex.quote(want)} \"$GUIDE_OUT\" || fail {shlex.quote('step ' + str(step) + ' printed no ' + want)}")
            continue
        emit(line)
        if line.startswith("nats-server ") and line.endswith("&"):
            emit(f"wait_port {port} $!")
        elif re.match(r"ferry (-\S+ )*run .*&$", line):
            m = re.search(r"--control (\S+)", line)
            emit(f"wait_host $! {m.group(1) if m else chr(34) + '$FERRY_CONTROL_SOCKET' + chr(34)}")
    if step == 1:
        emit('cd "$GUIDE_WORK"')
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
PY

cat > "$work/prelude.sh" <<'PRELUDE'
set -euo pipefail
fail() { echo "GUIDE FAIL: $*" >&2; exit 1; }
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
# Waits up to 600 s for something a background process makes ready (a
# Python component compiles for minutes on a loaded machine).
wait_for() {  # PID WHAT TEST...
  local pid=$1 what=$2 deadline=$((SECONDS + 600))
  shift 2
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || fail "$what: the process exited"
    [ $SECONDS -lt $deadline ] || fail "$what: not ready within 600 s"
    sleep 0.1
  done
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { wait_for "$2" "nats-server on port $1" port_open "$1"; }
wait_host() { wait_for "$1" "ferry run (control socket $2)" test -S "$2"; }
PRELUDE

cd "$SOURCE"
export FERRY_BUILD_DIR="$BUILD" FERRY_BUILD_TYPE="$BUILD_TYPE" FERRY_JOBS=2
export TMPDIR="$work" GUIDE_WORK="$work" GUIDE_OUT="$work/last.out"
export FERRY_CONTROL_SOCKET="$work/ferry.sock"
cat "$work/prelude.sh" "$script" > "$work/run.sh"
bash "$work/run.sh"

# Step 4's hosts shared the twenty requests: each handled some.
total=0 logs=0
for log in $(find "$work" -name a.log -o -name b.log); do
  logs=$((logs + 1))
  n=$(grep -o "hello: received [0-9]*, handled [0-9]*" "$log" | grep -o "handled [0-9]*" | grep -o "[0-9]*" || true)
  [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "GUIDE FAIL: $log shows no handled requests" >&2; cat "$log" >&2; exit 1; }
  total=$((total + n))
done
[ "$logs" = 2 ] || { echo "GUIDE FAIL: found $logs of a.log and b.log" >&2; exit 1; }
[ "$total" = 20 ] || { echo "GUIDE FAIL: the hosts handled $total requests, not 20" >&2; exit 1; }
echo "guide: both hosts handled requests ($total in all)"
