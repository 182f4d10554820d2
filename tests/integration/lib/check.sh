# Sourced by the integration tests: pass/fail counters and check COND MESSAGE, which
# evaluates COND in the caller's scope and counts it (printing MESSAGE on failure).
# Each test prints "N passed, N failed" last and exits non-zero on any failure.
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
