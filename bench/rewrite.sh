#!/usr/bin/env bash
# Rewrite throughput (MB/s, messages/s) beside the bare parse of the HTML tokenizer on
# the same generated corpus of marketing messages, and their ratio (target <= 2).
#   MESSAGES=200 ROUNDS=5 SEED=1 bash bench/rewrite.sh
set -euo pipefail
cd "$(dirname "$0")/.."
B=${TO_BUILD:-build}/rewrite_bench
[ -x "$B" ] || { echo "bench/rewrite.sh: build first (make build)" >&2; exit 1; }
"$B" "${MESSAGES:-200}" "${ROUNDS:-5}" "${SEED:-1}"
