#!/usr/bin/env bash
# Runs each libFuzzer target for a while (make fuzz FUZZ_SECONDS=N). New inputs go to
# a working corpus under the build directory, seeded from tests/fuzz/corpus/<name>/;
# crashes are left in the build directory and reported.
set -euo pipefail
build=${1:-build-fuzz}; secs=${2:-30}
cd "$(dirname "$0")/.."
status=0
for f in "$build"/fuzz_*; do
  [ -x "$f" ] || continue
  name=${f##*/fuzz_}
  work="$build/corpus-$name"
  mkdir -p "$work" "$build/crashes"
  echo "fuzz: $name for ${secs}s"
  if ! "$f" -max_total_time="$secs" -max_len=65536 -artifact_prefix="$build/crashes/$name-" \
      "$work" "tests/fuzz/corpus/$name" >"$build/fuzz_$name.log" 2>&1; then
    echo "fuzz: $name failed; see $build/fuzz_$name.log and $build/crashes/" >&2
    grep -E "violated|ERROR|SUMMARY" "$build/fuzz_$name.log" | head -5 >&2
    status=1
  fi
done
exit $status
