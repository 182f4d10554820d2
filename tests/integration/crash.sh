#!/usr/bin/env bash
# Crash test: under load from loadgen (every request its own message id), kill -9 the
# server, twice; afterwards every request whose response the client received must be
# in the store (a response is sent only once its event is committed).
set -euo pipefail
BIN=${TO_BIN:?}; BUILD=${TO_BUILD:?}
LOADGEN="$BUILD/loadgen"
T=$(mktemp -d)
PID=; LG=
cleanup() {
  for p in $PID $LG; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/check.sh"

start() {
  : > "$T/serve.log"
  "$BIN" serve --listen 127.0.0.1:0 --db "$T/ev.db" --keys "$T/keys" 2>"$T/serve.log" &
  PID=$!
  PORT=
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/serve.log")
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  [ -n "$PORT" ] || { cat "$T/serve.log" >&2; exit 1; }
}

"$BIN" keys new --keys "$T/keys" >/dev/null
for round in 1 2; do
  start
  # distinct id ranges per round
  "$LOADGEN" run "$T/keys" "$PORT" 64 60 "$T/answered.$round" $((round * 10000000)) \
    > "$T/loadgen.$round" &
  LG=$!
  # let the load build up, then pull the plug
  for _ in $(seq 1 300); do
    [ -s "$T/serve.log" ] && [ "$(curl -s "http://127.0.0.1:$PORT/metrics" |
      sed -n "s/^trueopen_http_events_committed_total //p")" -gt 3000 ] 2>/dev/null && break
    sleep 0.1
  done
  kill -9 "$PID"
  wait "$PID" 2>/dev/null || true
  PID=
  wait "$LG" || true
  LG=
  cat "$T/loadgen.$round"
done

# the store opens after the crashes, and a restarted server serves again
start
PIX=$("$BIN" token seal --keys "$T/keys" --account 1 --campaign 1 --message 5 --recipient 5)
check '[ "$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$PORT/o/$PIX")" = 200 ]' "restarted server answers"
kill -TERM "$PID"; wait "$PID"; PID=

"$BIN" events --db "$T/ev.db" --format jsonl > "$T/events.jsonl"
python3 - "$T" > "$T/verdict" <<'PY'
import json, sys
t = sys.argv[1]
stored = set()
for line in open(t + "/events.jsonl"):
    stored.add(json.loads(line)["message"])
answered, missing, bad = 0, 0, 0
for r in (1, 2):
    for line in open("%s/answered.%d" % (t, r)):
        msg, status = line.split()
        msg = int(msg)
        if status not in ("200", "302"):
            bad += 1
            continue
        answered += 1
        if msg not in stored:
            missing += 1
print(answered, missing, bad, len(stored))
PY
read -r answered missing badstatus stored < "$T/verdict"
echo "crash: $answered answered requests, $stored events stored, $missing answered but missing"
check '[ "$answered" -gt 2000 ]' "real load ($answered answered)"
check '[ "$missing" -eq 0 ]' "every answered request is stored ($missing missing)"
check '[ "$badstatus" -eq 0 ]' "every answer was 200 or 302 ($badstatus others)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
