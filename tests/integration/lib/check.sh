# Sourced by the integration tests: pass/fail counters and check COND MESSAGE, which
# evaluates COND in the caller's scope and counts it (printing MESSAGE on failure).
# Each test prints "N passed, N failed" last and exits non-zero on any failure.
#
# COND runs without pipefail: in `producer | grep -q X` grep may stop reading at its
# first match and the producer then dies of SIGPIPE; the condition is grep's verdict.
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }
check() {
  local check__rc=0
  set +o pipefail
  eval "$1" || check__rc=$?
  set -o pipefail
  if [ "$check__rc" -eq 0 ]; then ok; else bad "$2"; fi
}
