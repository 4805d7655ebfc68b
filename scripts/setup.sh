#!/usr/bin/env bash
# Installs what building and testing Ferry needs, only what is missing:
# Debian packages, the cargo-installed guest tools, the WASI adapter, and
# the Python and JS componentize tools.
# Idempotent; takes a second when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

PACKAGES=(
  g++ cmake ninja-build pkg-config
  libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 lld-14 llvm-14 wasi-libc libc++-14-dev-wasm32 libc++abi-14-dev-wasm32
  libclang-rt-14-dev-wasm32 libclang-rt-14-dev
  libnats-dev libmosquitto-dev libhiredis-dev
  nats-server mosquitto mosquitto-clients redis-server redis-tools
  python3-venv zsh
  # the metrics and health endpoint
  libcpp-httplib-dev
  # RabbitMQ adapter (librabbitmq), its test server and amqp-publish/amqp-consume
  librabbitmq-dev rabbitmq-server amqp-tools
  # Kafka: client library, kcat for interop tests, Java + Maven for the test server
  librdkafka-dev kcat openjdk-17-jre-headless maven
  # WebSocket gateway (Boost.Beast/Asio, headers only) and its browser test
  libboost-dev chromium openssl
  # TLS tests: a tunnel to a TLS-only Redis (Debian 12's hiredis has no TLS)
  stunnel4
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "setup: cargo is missing (install Rust 1.95 with rustup)" >&2; exit 1; }

# Pinned to the newest releases the installed rustc (1.95) builds.
install_tool() {  # crate version binary
  if ! "$3" --version 2>/dev/null | grep -q "$2"; then
    echo "setup: cargo install $1@$2"
    cargo install --quiet --locked "$1@$2"
  fi
}
install_tool wit-bindgen-cli 0.63.0 wit-bindgen
install_tool wasm-tools 1.263.0 wasm-tools

ADAPTER="$HOME/.cache/ferry/wasi_snapshot_preview1.reactor.wasm"
if [ ! -s "$ADAPTER" ]; then
  echo "setup: writing the WASI preview-1 reactor adapter"
  mkdir -p "$(dirname "$ADAPTER")"
  CARGO_TARGET_DIR="$HOME/.cache/ferry/cargo-target" cargo build --quiet --release --locked \
    --manifest-path guest/adapter/Cargo.toml
  "$HOME/.cache/ferry/cargo-target/release/ferry-wasi-adapter" "$ADAPTER"
fi

# Python and JS components (cmake/FerryScriptComponent.cmake). The pins are
# guest/py/requirements.txt and guest/js/package-lock.json; each is copied
# beside what it installed, so a changed pin reinstalls and an unchanged one
# costs a file comparison.
PY_TOOLS="$HOME/.cache/ferry/py"
if ! cmp -s guest/py/requirements.txt "$PY_TOOLS/requirements.txt" ||
   ! "$PY_TOOLS/bin/componentize-py" --version >/dev/null 2>&1; then
  echo "setup: componentize-py into $PY_TOOLS"
  rm -rf "$PY_TOOLS"
  python3 -m venv "$PY_TOOLS"
  "$PY_TOOLS/bin/pip" install --quiet --disable-pip-version-check -r guest/py/requirements.txt
  cp guest/py/requirements.txt "$PY_TOOLS/"
fi
JS_TOOLS="$HOME/.cache/ferry/js"
if ! cmp -s guest/js/package-lock.json "$JS_TOOLS/package-lock.json" ||
   [ ! -x "$JS_TOOLS/node_modules/.bin/componentize-js" ]; then
  command -v npm >/dev/null || { echo "setup: npm is missing (install Node.js 20 or newer)" >&2; exit 1; }
  echo "setup: componentize-js into $JS_TOOLS"
  rm -rf "$JS_TOOLS"
  mkdir -p "$JS_TOOLS"
  cp guest/js/package.json guest/js/package-lock.json "$JS_TOOLS/"
  (cd "$JS_TOOLS" && npm ci --silent --no-audit --no-fund)
fi
# ---- Kafka test server: Apache Kafka's jars from Maven Central (KRaft mode,
# no ZooKeeper). The pom is copied beside the jars, so an unchanged pom costs
# a file comparison.
KAFKA_JARS="$HOME/.cache/ferry/kafka-jars"
if ! cmp -s tests/support/kafka/pom.xml "$KAFKA_JARS/pom.xml"; then
  echo "setup: Kafka server jars into $KAFKA_JARS"
  rm -rf "$KAFKA_JARS"
  mvn -q -f tests/support/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory="$KAFKA_JARS"
  cp tests/support/kafka/pom.xml "$KAFKA_JARS/"
fi
# ---- end Kafka

# ---- WebSocket gateway browser test: playwright-core (pinned in
# tests/browser/package-lock.json) drives Debian's chromium.
PW_TOOLS="$HOME/.cache/ferry/playwright"
if ! cmp -s tests/browser/package-lock.json "$PW_TOOLS/package-lock.json" ||
   [ ! -d "$PW_TOOLS/node_modules/playwright-core" ]; then
  command -v npm >/dev/null || { echo "setup: npm is missing (install Node.js 20 or newer)" >&2; exit 1; }
  echo "setup: playwright-core into $PW_TOOLS"
  rm -rf "$PW_TOOLS"
  mkdir -p "$PW_TOOLS"
  cp tests/browser/package.json tests/browser/package-lock.json "$PW_TOOLS/"
  (cd "$PW_TOOLS" && npm ci --silent --no-audit --no-fund)
fi
# ---- end gateway

echo "setup: ready"
