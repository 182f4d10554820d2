#!/usr/bin/env bash
# Fails when a C file is not as clang-format would write it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format missing" >&2; exit 1; }
files=$(ls src/*/*.[ch] tests/unit/*.h tests/unit/*/*.c tests/fuzz/*.[ch] bench/*.[ch] 2>/dev/null || true)
bad=0
for f in $files; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "check-format: $f is not clang-formatted (make format)" >&2
    bad=1
  fi
done
exit $bad
