#!/usr/bin/env bash
# The embedding API as a user gets it: `cmake --install` into a fresh
# prefix, examples/embed configured with CMAKE_PREFIX_PATH and built against
# find_package(Ferry), then compiled once more through pkg-config (ferry.pc);
# both programs run the transformer component from bytes on their own
# in-process broker and must print what came back.
#   embed_install_test.sh CMAKE BUILD_DIR SOURCE_DIR COMPONENT.wasm
set -euo pipefail
CMAKE=$1 BUILD=$2 SOURCE=$3 COMPONENT=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$CMAKE" --install "$BUILD" --prefix "$work/prefix" > "$work/install.log" || fail "install: $(cat "$work/install.log")"
for f in bin/ferry include/ferry/host.h include/ferry/broker.h include/ferry/config.h \
         lib/libferry.a lib/libferry_engine.a lib/cmake/Ferry/FerryConfig.cmake lib/pkgconfig/ferry.pc; do
  [ -e "$work/prefix/$f" ] || fail "the install lacks $f"
done
# Only the public headers are installed.
[ "$(ls "$work/prefix/include")" = ferry ] || fail "headers beside ferry/: $(ls "$work/prefix/include")"

"$CMAKE" -S "$SOURCE/examples/embed" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" 2>&1 || fail "configure: $(cat "$work/configure.log")"
"$CMAKE" --build "$work/build" > "$work/build.log" 2>&1 || fail "build: $(cat "$work/build.log")"
check() {  # PROGRAM
  local out
  out=$("$1" "$COMPONENT" 2>&1) || fail "$1 exited $?: $out"
  echo "$out"
  [[ "$out" == *"received on transform.out: HELLO FROM THE EMBEDDING PROGRAM"* ]] || fail "$1 printed: $out"
  [[ "$out" == *"transformed-by: ferry-transformer"* ]] || fail "no metadata from the component: $out"
  [[ "$out" == *"upper: received 1, handled 1"* ]] || fail "stats: $out"
}
check "$work/build/embed"

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs ferry) || fail "pkg-config ferry failed"
c++ -std=c++20 -O1 "$SOURCE/examples/embed/main.cc" "$SOURCE/examples/embed/inproc_broker.cc" \
  -o "$work/embed-pc" $flags 2> "$work/pc.log" || fail "compile via pkg-config: $(cat "$work/pc.log")"
check "$work/embed-pc"
