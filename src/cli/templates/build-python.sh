#!/usr/bin/env bash
# Builds @NAME@.wasm from app.py with componentize-py (the version Ferry's
# scripts/setup.sh pins), for world @WORLD@ of the WIT in wit/. The tool is
# taken from PATH, else from ~/.cache/ferry/py where setup.sh installs it.
set -euo pipefail
case $0 in */*) cd "${0%/*}" ;; esac  # the project folder (bash builtins only)

COMPONENTIZE_PY=""
for c in componentize-py "$HOME/.cache/ferry/py/bin/componentize-py"; do
  if command -v "$c" >/dev/null 2>&1; then COMPONENTIZE_PY=$(command -v "$c"); break; fi
done
if [ -z "$COMPONENTIZE_PY" ]; then
  echo "build.sh: missing: componentize-py (not on PATH nor in ~/.cache/ferry/py/bin; pip install componentize-py==0.25.1, or run scripts/setup.sh in a Ferry checkout)" >&2
  exit 1
fi
"$COMPONENTIZE_PY" -d wit -w @WORLD@ componentize -o @NAME@.wasm app >/dev/null
echo "built @NAME@.wasm"
