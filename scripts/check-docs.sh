#!/usr/bin/env bash
# Fails when docs/config.md is not what `trueopen config docs` prints (the settings
# tables are the one source of truth; regenerate with `make docs`).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/trueopen
[ -x "$bin" ] || { echo "check-docs: build first (make build)" >&2; exit 1; }
if ! "$bin" config docs | diff -q - docs/config.md >/dev/null 2>&1; then
  echo "check-docs: docs/config.md is out of date (make docs)" >&2
  exit 1
fi
