#!/usr/bin/env bash
# Installs what is missing, then configures and builds everything into build/
# (host, CLI, example and test components, tests, benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/setup.sh
BUILD_DIR=${FERRY_BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${FERRY_BUILD_TYPE:-RelWithDebInfo} >/dev/null
cmake --build "$BUILD_DIR" -j "${FERRY_JOBS:-$(nproc)}"
