#!/usr/bin/env bash
# The demo end to end, smaller: scripts/demo.sh with a few hundred recipients in a
# temporary directory. It must print both views side by side with the agents the
# traffic imitates, count fewer people than events, and stop what it started.
set -euo pipefail
BIN=${TO_BIN:?}; SRC=${TO_SRC:?}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib/check.sh"

TO_BIN="$BIN" DEMO_DIR="$T/demo" DEMO_RECIPIENTS=210 bash "$SRC/scripts/demo.sh" > "$T/out" 2>&1 ||
  { cat "$T/out" >&2; bad "demo failed"; }
check 'grep -q "both views side by side" "$T/out"' "side by side"
for a in apple_mpp gmail_proxy gmail_prefetch safe_links proofpoint; do
  check 'grep -q "^$a " "$T/out"' "agent $a in the breakdown"
done
people=$(sed -n 's/^unique_opens *\([0-9]*\) *\([0-9]*\)$/\1/p' "$T/out")
all=$(sed -n 's/^unique_opens *\([0-9]*\) *\([0-9]*\)$/\2/p' "$T/out")
check '[ -n "$people" ] && [ -n "$all" ] && [ "$people" -lt "$all" ] && [ "$people" -gt 0 ]' "people ($people) fewer than all ($all)"
check 'grep -q "^sent *210 *210$" "$T/out"' "every recipient recorded"
check 'grep -q "the database is $T/demo/trueopen.db" "$T/out"' "says where the database is"
check 'grep -q "stopped, every queued event committed" "$T/demo/serve.log"' "server stopped cleanly"
check '! grep -q "delivered unchanged" "$T/demo/rewrite.log"' "every message rewritten"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
