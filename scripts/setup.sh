#!/usr/bin/env bash
# Installs what building and testing Ferry needs, only what is missing:
# Debian packages, the cargo-installed guest tools, the WASI adapter.
# Idempotent; takes a second when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

PACKAGES=(
  g++ cmake ninja-build pkg-config
  libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 lld-14 llvm-14 wasi-libc libc++-14-dev-wasm32 libc++abi-14-dev-wasm32
  libclang-rt-14-dev-wasm32 libclang-rt-14-dev
  libnats-dev libmosquitto-dev libhiredis-dev
  nats-server mosquitto mosquitto-clients redis-server redis-tools
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
echo "setup: ready"
