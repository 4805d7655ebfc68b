#!/usr/bin/env bash
# Builds everything and runs every test. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
BUILD_DIR=${FERRY_BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${FERRY_JOBS:-$(nproc)}" "$@"
