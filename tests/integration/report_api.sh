#!/usr/bin/env bash
# The JSON API of `trueopen serve --api-listen`, driven with curl, with traffic sent to
# the tracking server over HTTP through a trusted proxy (X-Forwarded-For): Apple MPP
# prefetch from an Apple relay address right after sending, a person through Gmail's
# image proxy who clicks, and later a person in Apple Mail (the mail was sent 30 s before,
# past the classifier's early-after-send window, so people are not taken for scanners). Checks keys (none, bad,
# revoked: 401), tenant isolation (404, never data), both views and their parameters,
# the upgrade of a machine-opened message, settings GET/PUT, an audit row for every
# call, that no API listens without --api-listen, and the server's own retention run
# with and without a legal hold.
set -euo pipefail
BIN=${TO_BIN:?}; SHARED=${TO_SHARED:?}
T=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
. "$(dirname "$0")/lib/check.sh"
jget() { python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k)] if isinstance(v,list) else v[k]
print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1"; }
msg_field() { # JSON of /messages on stdin: msg_field ID FIELD
  python3 -c 'import json,sys
for m in json.load(sys.stdin)["messages"]:
    if m["id"]==int(sys.argv[1]): v=m[sys.argv[2]]; print(json.dumps(v) if isinstance(v,bool) else v)' "$1" "$2"; }

DB="$T/db"
"$BIN" keys new --keys "$T/keys" >/dev/null
NOW=$(date +%s)
mail() {
  printf 'From: Clinic <news@clinic.example>\r\nTo: %s\r\nSubject: Results\r\nMessage-ID: <%s@clinic.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Your <a href="https://clinic.example/results">results</a> are ready.</p></body></html>\r\n' "$1" "$2"
}
rewrite() { # account campaign recipient n sent
  mail "$3" "m$4" | "$BIN" rewrite --keys "$T/keys" --db "$DB" --tracking-url https://t.example.net \
    --account "$1" --campaign "$2" --recipient "$3" --sent-at "$5" > "$T/m$4.eml" 2>/dev/null
}
rewrite 1 "spring sale" a@icloud.com 1 $((NOW - 30))
rewrite 1 "spring sale" b@gmail.com 2 $((NOW - 30))
"$BIN" settings set --db "$DB" --account 2 keep_recipient_address on >/dev/null
rewrite 2 private c@example.org 3 $((NOW - 30))
rewrite 1 old d@gmail.com 4 $((NOW - 3 * 86400))
tok() { grep -o "https://t.example.net/$2/[A-Za-z0-9_-]*" "$T/m$1.eml" | head -1 | sed 's|.*/||'; }
K1=$("$BIN" apikey new --db "$DB" --account 1 | tail -1)
K2=$("$BIN" apikey new --db "$DB" --account 2 | tail -1)
K3=$("$BIN" apikey new --db "$DB" --account 1 | tail -1)
"$BIN" apikey revoke --db "$DB" --account 1 3 >/dev/null

start() {
  : > "$T/serve.log"
  "$BIN" serve --listen 127.0.0.1:0 --db "$DB" --keys "$T/keys" --trusted-proxy 127.0.0.1/32 "$@" \
    2>"$T/serve.log" &
  PID=$!
  PORT=
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*serve: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/serve.log")
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$PORT" ] || { cat "$T/serve.log" >&2; echo "server did not start" >&2; exit 1; }
  APORT=$(sed -n 's/.*API listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/serve.log")
  U="http://127.0.0.1:$PORT"; A="http://127.0.0.1:$APORT"
}
stop() { kill -TERM "$PID"; wait "$PID" || true; PID=; }
api() { # key path [curl args]: prints the body, status in $T/code
  local k=$1 p=$2; shift 2
  curl -s -o "$T/body" -w '%{http_code}' ${k:+-H "Authorization: Bearer $k"} "$@" "$A$p" > "$T/code"
  cat "$T/body"
}
code() { cat "$T/code"; }

start
check '! grep -q "API listening" "$T/serve.log"' "no API without --api-listen"
stop
start --api-listen 127.0.0.1:0
check '[ -n "$APORT" ] && [ "$APORT" != "$PORT" ]' "API on its own listener"

APPLE=$(head -1 "$SHARED/data/ip-ranges/apple/icloud-private-relay-egress-ipv4-merged.txt" | cut -d/ -f1 | awk -F. '{print $1"."$2"."$3"."$4+1}')
CHROME='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
GPROXY='Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)'
APPLEMAIL='Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)'
hit() { curl -s -o /dev/null -w '%{http_code}' -A "$3" -H "X-Forwarded-For: $2" "$U/$1"; }
check '[ "$(hit "o/$(tok 1 o)" "$APPLE" "Mozilla/5.0")" = 200 ]' "MPP prefetch answered"
check '[ "$(hit "o/$(tok 2 o)" 66.102.8.20 "$GPROXY")" = 200 ]' "Gmail proxy open answered"
check '[ "$(hit "c/$(tok 2 c)" 198.51.100.23 "$CHROME")" = 302 ]' "click answered"
check '[ "$(hit "o/$(tok 3 o)" 198.51.100.77 "$APPLEMAIL")" = 200 ]' "account 2's open answered"

# --- keys -------------------------------------------------------------------------------
api "" /api/v1/campaigns >/dev/null
check '[ "$(code)" = 401 ]' "no key: 401"
api "tok_thisisnotakeythisisnotakeythisisnotakey123" /api/v1/campaigns >/dev/null
check '[ "$(code)" = 401 ]' "bad key: 401"
api "$K3" /api/v1/campaigns >/dev/null
check '[ "$(code)" = 401 ]' "revoked key: 401"
curl -s -D "$T/h" -o /dev/null "$A/api/v1/settings"
check 'grep -qi "^WWW-Authenticate: Bearer" "$T/h"' "401 names the scheme"

# --- campaigns and tenant isolation ----------------------------------------------------------
api "$K1" /api/v1/campaigns > "$T/c1"
check '[ "$(code)" = 200 ] && grep -q "spring sale" "$T/c1" && ! grep -q private "$T/c1"' "own campaigns only"
api "$K1" /api/v1/campaigns/private/stats > "$T/x"
check '[ "$(code)" = 404 ] && ! grep -q "sent" "$T/x"' "another account's stats: 404, no data"
api "$K1" /api/v1/campaigns/private/messages > "$T/x"
check '[ "$(code)" = 404 ] && ! grep -q example.org "$T/x"' "another account's messages: 404"
api "$K2" /api/v1/campaigns/spring%20sale/stats > "$T/x"
check '[ "$(code)" = 404 ]' "and the other way round"
api "$K2" /api/v1/campaigns/private/stats > "$T/x"
check '[ "$(code)" = 200 ] && [ "$(jget sent < "$T/x")" = 1 ]' "account 2 sees its own"
api "$K2" /api/v1/campaigns/private/messages > "$T/x"
check 'grep -q "\"recipient\":\"c@example.org\"" "$T/x"' "an account that keeps addresses sees them"
api "$K1" "/api/v1/campaigns/spring%20sale/messages" > "$T/x"
check '! grep -q "\"recipient\":" "$T/x" && ! grep -q "a@icloud" "$T/x"' "others keep only a hash"

# --- both views -------------------------------------------------------------------------------
api "$K1" "/api/v1/campaigns/spring%20sale/stats" > "$T/p.json"
check '[ "$(code)" = 200 ] && [ "$(jget view < "$T/p.json")" = people ]' "default view people"
check '[ "$(jget sent < "$T/p.json")" = 2 ] && [ "$(jget unique_opens < "$T/p.json")" = 1 ]' "people: the Gmail reader"
check '[ "$(jget unique_clicks < "$T/p.json")" = 1 ] && [ "$(jget automated_excluded < "$T/p.json")" = 1 ]' "MPP open excluded"
check 'jget by_agent < "$T/p.json" | grep -q apple_mpp' "agent breakdown"
for q in "view=all" "include_automated=1"; do
  api "$K1" "/api/v1/campaigns/spring%20sale/stats?$q" > "$T/a.json"
  check '[ "$(jget view < "$T/a.json")" = all ] && [ "$(jget unique_opens < "$T/a.json")" = 2 ]' "?$q counts the MPP open"
done
api "$K1" "/api/v1/campaigns/spring%20sale/stats?exclude_automated=1" > "$T/x"
check '[ "$(jget view < "$T/x")" = people ] && [ "$(jget view_source < "$T/x")" = request ]' "?exclude_automated=1"
api "$K1" "/api/v1/campaigns/spring%20sale/stats?view=all&exclude_automated=1" >/dev/null
check '[ "$(code)" = 400 ]' "contradiction: 400"

# --- message status, and the upgrade by a later human open ---------------------------------
api "$K1" "/api/v1/campaigns/spring%20sale/messages" > "$T/m.json"
check '[ "$(msg_field 1 opened < "$T/m.json")" = false ]' "MPP-opened message not opened for people"
api "$K1" "/api/v1/campaigns/spring%20sale/messages?view=all" > "$T/m.json"
check '[ "$(msg_field 1 opened < "$T/m.json")" = true ]' "but opened counting everything"
check '[ "$(hit "o/$(tok 1 o)" 198.51.100.40 "$APPLEMAIL")" = 200 ]' "a person opens in Apple Mail"
api "$K1" "/api/v1/campaigns/spring%20sale/messages" > "$T/m.json"
check '[ "$(msg_field 1 opened < "$T/m.json")" = true ] && [ "$(msg_field 1 opens < "$T/m.json")" = 1 ]' "upgraded: opened for people"
api "$K1" "/api/v1/campaigns/spring%20sale/stats" > "$T/p.json"
check '[ "$(jget unique_opens < "$T/p.json")" = 2 ]' "two human openers now"

# --- settings -----------------------------------------------------------------------------------
api "$K1" /api/v1/settings > "$T/s"
check '[ "$(jget suppress_automated < "$T/s")" = true ]' "settings GET"
api "$K1" /api/v1/settings -X PUT -H 'Content-Type: application/json' -d '{"suppress_automated":false}' > "$T/s"
check '[ "$(code)" = 200 ] && [ "$(jget suppress_automated < "$T/s")" = false ]' "settings PUT"
api "$K1" /api/v1/settings -X PUT -d '{"retention_days":-4}' >/dev/null
check '[ "$(code)" = 400 ]' "bad setting: 400"
check '[ "$("$BIN" settings get --db "$DB" --account 1 retention_days)" = 365 ]' "and nothing changed"
api "$K1" "/api/v1/campaigns/spring%20sale/stats" > "$T/x"
check '[ "$(jget view < "$T/x")" = all ] && [ "$(jget view_source < "$T/x")" = account_setting ]' "the setting picks the default view"
check '[ "$("$BIN" settings get --db "$DB" --account 2 suppress_automated)" = on ]' "account 2 untouched"
api "$K1" /api/v1/settings -X DELETE >/dev/null
check '[ "$(code)" = 405 ]' "DELETE: 405"

# --- the audit log ---------------------------------------------------------------------------
stop
"$BIN" audit --db "$DB" --format jsonl > "$T/audit.jsonl"
n_api=$(grep -c '"via":"api"' "$T/audit.jsonl" || true)
check '[ "$n_api" -eq 25 ]' "one audit row per API call ($n_api)"
check '[ "$(grep "\"via\":\"api\"" "$T/audit.jsonl" | grep -c "\"status\":401")" -eq 4 ]' "refusals audited"
check 'grep "\"status\":401" "$T/audit.jsonl" | head -1 | grep -q "\"account\":null"' "unknown caller recorded as such"
check 'grep -q "\"account\":1,\"key_id\":1,\"action\":\"GET\",\"target\":\"/api/v1/campaigns/private/stats\",\"status\":404" "$T/audit.jsonl"' "who, what, answer of a refused peek"
check 'grep -q "\"action\":\"PUT\",\"target\":\"/api/v1/settings\",\"status\":200,\"remote\":\"127.0.0.1\"" "$T/audit.jsonl"' "settings change audited"
check '! grep -q "$K1" "$T/audit.jsonl" && ! grep -q "$K2" "$T/audit.jsonl"' "no key in the audit log"

# --- the server's retention run -----------------------------------------------------------------
"$BIN" settings set --db "$DB" --account 1 retention_days 1 >/dev/null
"$BIN" hold set --db "$DB" --account 1 --campaign old >/dev/null
start --retention-interval 1s
sleep 2.5
check '[ "$("$BIN" report --db "$DB" --campaign old --format json | jget sent)" = 1 ]' "held campaign survives the server's retention"
"$BIN" hold clear --db "$DB" --account 1 --campaign old >/dev/null
for _ in $(seq 1 50); do
  [ "$("$BIN" report --db "$DB" --campaign old --format json | jget sent)" = 0 ] && break
  sleep 0.2
done
check '[ "$("$BIN" report --db "$DB" --campaign old --format json | jget sent)" = 0 ]' "released: retention deletes it"
check '[ "$("$BIN" report --db "$DB" --campaign "spring sale" --format json | jget sent)" = 2 ]' "recent mail kept"
stop

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
