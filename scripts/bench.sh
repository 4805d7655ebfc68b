#!/usr/bin/env bash
# Builds (scripts/build.sh) and runs every benchmark, printing markdown
# tables ready for docs/PERFORMANCE.md; a copy goes to $BUILD_DIR/bench.md.
# The broker benchmark starts its own nats-server (core and JetStream),
# mosquitto, redis-server, rabbitmq-server and Kafka; its drivers publish
# pipelined (PublishAsync), so the echo, not the driver, is measured.
#
#   scripts/bench.sh [--quick] [--no-build]
#   FERRY_BENCH_BROKERS="nats-jetstream mqtt"   only these brokers (default: all:
#     nats nats-jetstream mqtt redis redis-streams rabbitmq kafka)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${FERRY_BUILD_DIR:-build}
QUICK=()
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=(--quick) ;;
    --no-build) BUILD=0 ;;
    *) echo "usage: scripts/bench.sh [--quick] [--no-build]" >&2; exit 2 ;;
  esac
done
[ "$BUILD" = 1 ] && scripts/build.sh >&2

B="$BUILD_DIR/bench"
OUT="$BUILD_DIR/bench.md"
{
  echo "## Run of $(date -u +%Y-%m-%d) ($(git rev-parse --short HEAD), $(nproc) cores, ${FERRY_BUILD_TYPE:-RelWithDebInfo}${QUICK:+, --quick})"
  echo
  echo "Load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "### The guest boundary alone (echo called through the engine, a broker that does nothing)"
  echo
  "$B/ferry_engine_bench" "${QUICK[@]}"
  echo
  "$B/ferry_echo_bench" "${QUICK[@]}"
  "$B/ferry_v010_bench" "${QUICK[@]}"
  "$B/ferry_async_bench" "${QUICK[@]}"
  "$B/ferry_request_bench" "${QUICK[@]}"
  "$B/ferry_memory_bench" "${QUICK[@]}"
  # shellcheck disable=SC2086
  "$B/ferry_broker_bench" "${QUICK[@]}" ${FERRY_BENCH_BROKERS:-}
} | tee "$OUT"
