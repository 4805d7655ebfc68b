#!/usr/bin/env bash
# Builds @NAME@.wasm from app.js with componentize-js (the version Ferry's
# scripts/setup.sh pins), for world @WORLD@ of the WIT in wit/. The tool is
# taken from PATH, else from ~/.cache/ferry/js where setup.sh installs it.
set -euo pipefail
case $0 in */*) cd "${0%/*}" ;; esac  # the project folder (bash builtins only)

missing=()
NODE=$(command -v node 2>/dev/null) || missing+=("node (Node.js 20 or newer)")
COMPONENTIZE_JS=""
for c in componentize-js "$HOME/.cache/ferry/js/node_modules/.bin/componentize-js"; do
  if command -v "$c" >/dev/null 2>&1; then COMPONENTIZE_JS=$(command -v "$c"); break; fi
done
[ -n "$COMPONENTIZE_JS" ] ||
  missing+=("componentize-js (not on PATH nor in ~/.cache/ferry/js; npm install @bytecodealliance/componentize-js@0.23.0 @bytecodealliance/preview2-shim@0.25.0, or run scripts/setup.sh in a Ferry checkout)")
if [ ${#missing[@]} -gt 0 ]; then
  line=$(printf '%s; ' "${missing[@]}")
  echo "build.sh: missing: ${line%; }" >&2
  exit 1
fi
"$NODE" "$COMPONENTIZE_JS" app.js --wit wit --world-name @WORLD@ --out @NAME@.wasm >/dev/null
echo "built @NAME@.wasm"
