#!/usr/bin/env bash
# Builds @NAME@.wasm from app.cc, with the tools Ferry's scripts/setup.sh
# installs:
#   wit-bindgen c   C bindings for world @WORLD@ of the WIT in wit/
#   clang           Debian's clang for wasm32-wasi, with wasi-libc and libc++
#   wasm-tools      a component, with the WASI preview-1 reactor adapter
# Each tool is taken from PATH, else from where setup.sh puts it. Anything
# missing is named on one line, with how to get it.
set -euo pipefail
case $0 in */*) cd "${0%/*}" ;; esac  # the project folder (bash builtins only)

missing=()
find_tool() {  # VAR NAME HINT CANDIDATE...: VAR is the first candidate found
  local var=$1 name=$2 hint=$3 c
  shift 3
  for c in "$@"; do
    if command -v "$c" >/dev/null 2>&1; then printf -v "$var" %s "$(command -v "$c")"; return; fi
  done
  missing+=("$name ($hint)")
}
find_tool CC clang "apt-get install clang-14" "${WASM_CC:-clang-14}" clang-14 clang
find_tool CXX clang++ "apt-get install clang-14" "${WASM_CXX:-clang++-14}" clang++-14 clang++
find_tool WIT_BINDGEN wit-bindgen "cargo install --locked wit-bindgen-cli@0.63.0" \
  wit-bindgen "$HOME/.cargo/bin/wit-bindgen"
find_tool WASM_TOOLS wasm-tools "cargo install --locked wasm-tools@1.263.0" \
  wasm-tools "$HOME/.cargo/bin/wasm-tools"
SYSROOT=${WASI_SYSROOT:-/usr}
[ -f "$SYSROOT/lib/wasm32-wasi/libc.a" ] ||
  missing+=("wasi-libc in $SYSROOT/lib/wasm32-wasi (apt-get install wasi-libc, or set WASI_SYSROOT)")
[ -f "$SYSROOT/lib/wasm32-wasi/libc++.a" ] ||
  missing+=("libc++ for wasm32 in $SYSROOT/lib/wasm32-wasi (apt-get install libc++-14-dev-wasm32 libc++abi-14-dev-wasm32)")
ADAPTER=${FERRY_WASI_ADAPTER:-$HOME/.cache/ferry/wasi_snapshot_preview1.reactor.wasm}
[ -s "$ADAPTER" ] ||
  missing+=("the WASI preview-1 reactor adapter at $ADAPTER (run scripts/setup.sh in a Ferry checkout, or set FERRY_WASI_ADAPTER)")
if [ ${#missing[@]} -gt 0 ]; then
  line=$(printf '%s; ' "${missing[@]}")
  echo "build.sh: missing: ${line%; }" >&2
  exit 1
fi

mkdir -p build
if ! "$WIT_BINDGEN" c wit --world @WORLD@ --out-dir build > build/wit-bindgen.log 2>&1; then
  cat build/wit-bindgen.log >&2
  exit 1
fi
FLAGS=(--target=wasm32-wasi "--sysroot=$SYSROOT" -O2 -Wall -Ibuild)
"$CC" "${FLAGS[@]}" -std=c11 -c build/@WORLD_C@.c -o build/bindings.o
"$CXX" "${FLAGS[@]}" -std=c++20 -fno-exceptions -c app.cc -o build/app.o
"$CXX" "${FLAGS[@]}" -mexec-model=reactor -o build/@NAME@.core.wasm \
  build/app.o build/bindings.o build/@WORLD_C@_component_type.o -lc++ -lc++abi
"$WASM_TOOLS" component new build/@NAME@.core.wasm \
  --adapt "wasi_snapshot_preview1=$ADAPTER" -o @NAME@.wasm
echo "built @NAME@.wasm"
