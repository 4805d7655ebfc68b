#!/usr/bin/env bash
# Runs one libFuzzer target for a while (default 60 s):
#   scripts/fuzz.sh config|topic|envelope|component|control|gateway [seconds]
# Builds with clang and AddressSanitizer into build-fuzz/. Findings go to
# build-fuzz/findings/<target>/; the seed corpus is fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh config|topic|envelope|component|control|gateway [seconds]}"
seconds="${2:-60}"
scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFERRY_BUILD_TESTS=OFF -DFERRY_BUILD_BENCH=OFF -DFERRY_BUILD_GUESTS=OFF -DFERRY_BUILD_FUZZERS=ON \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address" \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address" >/dev/null
fi
cmake --build build-fuzz -j"${FERRY_JOBS:-2}" --target "fuzz_$target"
work="build-fuzz/findings/$target"
mkdir -p "$work/corpus"
cp -n fuzz/corpus/"$target"/* "$work/corpus/" 2>/dev/null || true
# Component inputs: add the example components as seeds when built.
if [ "$target" = component ] && ls build/components/*.wasm >/dev/null 2>&1; then
  cp -n build/components/echo.wasm build/components/proposal.wasm "$work/corpus/" 2>/dev/null || true
fi
exec "build-fuzz/fuzz/fuzz_$target" -max_total_time="$seconds" -artifact_prefix="$work/" \
  -max_len=65536 "$work/corpus"
