#!/usr/bin/env bash
# Runs each libFuzzer target for a short while on its corpus (make fuzz).
set -euo pipefail
build=${1:-build-fuzz}; secs=${2:-30}
cd "$(dirname "$0")/.."
for f in "$build"/fuzz_*; do
  name=${f##*/fuzz_}
  mkdir -p "tests/fuzz/corpus/$name"
  echo "fuzz: $name for ${secs}s"
  "$f" -max_total_time="$secs" -max_len=65536 "tests/fuzz/corpus/$name" >/dev/null 2>"$build/fuzz_$name.log" \
    || { tail -40 "$build/fuzz_$name.log"; exit 1; }
done
