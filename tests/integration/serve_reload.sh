#!/usr/bin/env bash
# trueopen serve reloads its rule data on SIGHUP without dropping a request: clicks
# keep flowing during the reload, events after it are classified with the new rules,
# and a rule set that does not load is refused while the old one stays in force.
set -euo pipefail
: "${TO_BIN:?}" "${TO_SRC:?}"
T=$(mktemp -d)
PID=; LOAD=
cleanup() {
  [ -n "$LOAD" ] && kill "$LOAD" 2>/dev/null || true
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/serve.log" ] && tail -20 "$T/serve.log" >&2; exit 1; }

cp -r "$TO_SRC/data/rules" "$T/rules"
rm -f "$T/rules/.lock"
"$TO_BIN" keys new --keys "$T/keys" >/dev/null
CLK=$("$TO_BIN" token seal --keys "$T/keys" --account 1 --campaign 2 --message 3 --recipient 4 \
  --link 'https://clinic.example/a' --sent-at 1000)
"$TO_BIN" serve --listen 127.0.0.1:0 --db "$T/ev.db" --keys "$T/keys" --rules "$T/rules" \
  --trusted-proxy 127.0.0.1/32 --batch-ms 0 2> "$T/serve.log" &
PID=$!
PORT=
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/serve.log")
  [ -n "$PORT" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$PORT" ] || fail "server did not start"
U="http://127.0.0.1:$PORT"
grep -q 'rules [0-9a-f]\{8\} loaded' "$T/serve.log" || fail "no rules loaded line"
v1=$(sed -n 's/.*rules \([0-9a-f]\{8\}\) loaded.*/\1/p' "$T/serve.log" | tail -1)

click() { # ua -> http code
  curl -s -o /dev/null -w '%{http_code}' -A "$1" -H 'X-Forwarded-For: 198.51.100.7' "$U/c/$CLK"
}
events() { "$TO_BIN" events --db "$T/ev.db" --format jsonl; }
[ "$(click 'AcmeProbe/1.0')" = 302 ] || fail "click before reload"

# Clicks in a loop while the rules are reloaded: every one must be answered.
( n=0; while [ ! -f "$T/stop" ]; do
    c=$(click 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0')
    echo "$c" >> "$T/codes"; n=$((n+1)); if [ $n -ge 2000 ]; then break; fi
  done; exit 0 ) &
LOAD=$!
sleep 0.3
printf 'ua acme_probe human AcmeProbe/\n' > "$T/rules/operator.rules"
kill -HUP "$PID"
for _ in $(seq 1 100); do
  [ "$(grep -c 'rules [0-9a-f]\{8\} loaded' "$T/serve.log")" -ge 2 ] && break
  sleep 0.1
done
sleep 0.3
touch "$T/stop"; wait "$LOAD"; LOAD=
[ "$(grep -c 'rules [0-9a-f]\{8\} loaded' "$T/serve.log")" -ge 2 ] || fail "reload not logged"
v2=$(sed -n 's/.*rules \([0-9a-f]\{8\}\) loaded.*/\1/p' "$T/serve.log" | tail -1)
[ "$v1" != "$v2" ] || fail "rules version did not change on reload"
total=$(wc -l < "$T/codes")
good=$(grep -c '^302$' "$T/codes" || true)
echo "requests during reload: $total, answered 302: $good"
[ "$total" -gt 10 ] && [ "$total" = "$good" ] || fail "requests dropped during reload ($good of $total)"

[ "$(click 'AcmeProbe/1.0')" = 302 ] || fail "click after reload"
sleep 0.3
events > "$T/ev.jsonl"
first=$(grep 'AcmeProbe' "$T/ev.jsonl" | head -1)
last=$(grep 'AcmeProbe' "$T/ev.jsonl" | tail -1)
echo "$first" | jq -e '.agent!="acme_probe" and .verdict=="automated"' >/dev/null || fail "before: $first"
echo "$last" | jq -e '.agent=="acme_probe" and .verdict=="human" and .rules_version!=null' >/dev/null || fail "after: $last"
[ "$(echo "$first" | jq .rules_version)" != "$(echo "$last" | jq .rules_version)" ] || fail "rules_version not recorded per event"

# A broken rule set is refused; the server keeps the rules it has and keeps serving.
printf 'ua broken bot (unclosed\n' > "$T/rules/operator.rules"
kill -HUP "$PID"
for _ in $(seq 1 100); do grep -q 'reload failed' "$T/serve.log" && break; sleep 0.1; done
grep -q "reload failed, keeping rules $v2" "$T/serve.log" || fail "bad reload not refused"
[ "$(click 'AcmeProbe/2.0')" = 302 ] || fail "click after bad reload"
sleep 0.3
events | grep 'AcmeProbe/2.0' | jq -e '.agent=="acme_probe"' >/dev/null || fail "old rules not kept"

kill -TERM "$PID"; wait "$PID" || fail "serve did not exit 0"
PID=
echo "serve_reload: ok"
