#!/usr/bin/env bash
# `trueopen milter` with a real SQLite store, driven through the milter protocol by
# tests/integration/lib/milter_client.py (the MTA's side, one message per connection):
# - per-account settings: senders mapped by account_map to two accounts with different
#   honeypot and keep_recipient_address settings each get their own account's; an
#   unmapped sender gets the default account; a settings change is picked up after
#   account_settings_refresh; a setting given in the configuration wins over the store's;
# - more than MILTER_RCPT_MAX (1000) recipients: the full count is recorded, the tokens
#   name the message, the domain is kept only when every recipient shares it;
# - metrics_listen: GET /healthz, GET /metrics with the trueopen_rewrite_* counters, each
#   checked against the messages sent (rewritten, untracked, parse, links, bad parts);
#   tracking paths get 404 there; a bad metrics_listen exits 2.
set -euo pipefail
BIN=${TO_BIN:?TO_BIN unset}
SRC=${TO_SRC:?TO_SRC unset}
. "$SRC/tests/integration/lib/check.sh"
CLIENT=$SRC/tests/integration/lib/milter_client.py

T=$(mktemp -d /tmp/trueopen-milter-proto.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

TRACK=https://t.example.net
KEYS=$T/keys.ring
DB=$T/t.db
"$BIN" keys new --keys "$KEYS" >/dev/null
# account 21: honeypot off; account 22: addresses kept (honeypot stays on); 5: no row
"$BIN" settings set --db "$DB" --account 21 honeypot off >/dev/null
"$BIN" settings set --db "$DB" --account 22 keep_recipient_address on >/dev/null

start_milter() { # NAME SOCKET [more flags]: starts a milter, waits for its socket
  local name=$1 sock=$2; shift 2
  "$BIN" milter --socket "unix:$sock" --keys "$KEYS" --db "$DB" --tracking-url "$TRACK" \
    --account 5 --account-map "alice@clinic.test 21" --account-map "bob@clinic.test 22" \
    "$@" > "$T/$name.log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
  for _ in $(seq 200); do [ -S "$sock" ] && return 0; sleep 0.05; done
  cat "$T/$name.log" >&2
  echo "milter_protocol: the milter $name did not open its socket" >&2
  exit 1
}

MPORT=$(free_port)
A=$T/a.sock
start_milter a "$A" --metrics-listen "127.0.0.1:$MPORT" --account-settings-refresh 1s
A_PID=$LAST_PID
M=http://127.0.0.1:$MPORT
for _ in $(seq 100); do curl -sf "$M/healthz" >/dev/null && break; sleep 0.05; done

# --- the endpoints before any message -------------------------------------------------
check '[ "$(curl -s "$M/healthz")" = ok ]' "/healthz does not answer ok"
curl -s -D "$T/mh" -o "$T/m0" "$M/metrics"
check 'grep -qi "^content-type: text/plain; version=0.0.4" "$T/mh"' "/metrics content type"
for s in trueopen_rewrite_messages_total trueopen_rewrite_links_total \
         trueopen_rewrite_parts_bad_total trueopen_rewrite_parts_charset_total; do
  check "grep -q '^# HELP $s ' '$T/m0' && grep -q '^# TYPE $s counter\$' '$T/m0'" "no HELP/TYPE for $s"
done
for st in rewritten untracked dkim-signed too-big parse no-account store; do
  check "grep -qx 'trueopen_rewrite_messages_total{status=\"$st\"} 0' '$T/m0'" "status $st is not 0 at start"
done
check 'grep -qx "trueopen_rewrite_links_total 0" "$T/m0"' "links not 0 at start"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check '[ "$(code "$M/c/AAAA")" = 404 ] && [ "$(code "$M/o/AAAA")" = 404 ] && [ "$(code "$M/x")" = 404 ]' \
  "the metrics listener serves something else than /healthz and /metrics"

# --- messages --------------------------------------------------------------------------
crlf() { sed 's/$/\r/'; }
html_msg() { # MSGID: an HTML message with two links
  crlf <<EOF
From: Clinic <news@sender.test>
Subject: Checkup
Message-ID: <$1@sender.test>
X-Campaign-ID: spring
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body><a href="https://clinic.example/book">Book</a> <a href="https://clinic.example/faq">FAQ</a></body></html>
EOF
}
send() { # SOCKET NAME [client args]: sends $T/NAME.eml, result in $T/NAME.out(.json)
  local sock=$1 name=$2; shift 2
  python3 "$CLIENT" "$sock" --in "$T/$name.eml" --out "$T/$name.out" "$@" > "$T/$name.json" \
    || { echo "milter_protocol: $name: the conversation failed" >&2; exit 1; }
}
tokens() { grep -o "$TRACK/$2/[A-Za-z0-9_-]*" "$T/$1.out" | sed "s|$TRACK/$2/||"; }
field() { # NAME KIND KEY: KEY of the first KIND token of message NAME
  "$BIN" token open --keys "$KEYS" "$(tokens "$1" "$2" | head -1)" | python3 -c "import json,sys; print(json.load(sys.stdin)['$3'])"
}
row() { # MESSAGE-ID KEY: a field of the messages row
  "$BIN" messages --db "$DB" --format jsonl | python3 -c "
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r['message_id'] == '<$1@sender.test>': print(r['$2'])"
}
stored_addr() { sqlite3 "$DB" "SELECT coalesce(recipient_addr,'') FROM messages WHERE message_id_hdr = '<$1@sender.test>'"; }

html_msg alice1 > "$T/alice1.eml"
send "$A" alice1 --auth alice@clinic.test --rcpt p1@patients.test
check 'grep -q "\"replaced\": true" "$T/alice1.json"' "alice's message was not rewritten"
check '[ "$(tokens alice1 c | wc -l)" = 2 ] && [ "$(tokens alice1 o | wc -l)" = 1 ]' "alice: two links and a pixel"
check '[ "$(tokens alice1 h | wc -l)" = 0 ]' "alice's account (21) has the honeypot off, but it is there"
check '[ "$(field alice1 c account)" = 21 ]' "alice's tokens do not carry account 21"
check '[ "$(row alice1 account)" = 21 ]' "alice's row is not account 21"
check '[ -z "$(stored_addr alice1)" ]' "alice's account does not keep addresses, but one was stored"

html_msg bob1 > "$T/bob1.eml"
send "$A" bob1 --auth bob@clinic.test --rcpt p2@patients.test
check '[ "$(tokens bob1 h | wc -l)" = 1 ]' "bob's account (22) has the honeypot on, but it is missing"
check '[ "$(field bob1 c account)" = 22 ]' "bob's tokens do not carry account 22"
check '[ "$(stored_addr bob1)" = p2@patients.test ]' "bob's account keeps addresses, but none was stored"

html_msg carol1 > "$T/carol1.eml"
send "$A" carol1 --auth carol@clinic.test --rcpt p3@patients.test
check '[ "$(tokens carol1 h | wc -l)" = 1 ] && [ "$(field carol1 c account)" = 5 ]' \
  "an unmapped sender does not get the default account with its defaults"

# more than 1000 recipients, all of one domain
html_msg many1 > "$T/many1.eml"
send "$A" many1 --rcpt-range 'p%d@patients.test' 1500
check 'grep -q "\"replaced\": true" "$T/many1.json"' "the message to 1500 recipients was not rewritten"
check '[ "$(row many1 recipient_count)" = 1500 ]' "recipient_count is $(row many1 recipient_count), not 1500"
check '[ "$(row many1 recipient_domain)" = patients.test ]' "the shared domain of 1500 recipients was lost"
check '[ "$(field many1 c recipient)" = 0 ] && [ "$(field many1 o recipient)" = 0 ]' \
  "the tokens of a message to 1500 recipients name a recipient"
# 1000 of one domain, then one of another (past the kept ones)
html_msg many2 > "$T/many2.eml"
send "$A" many2 --rcpt-range 'p%d@patients.test' 1000 --rcpt late@elsewhere.test
check '[ "$(row many2 recipient_count)" = 1001 ]' "recipient_count is $(row many2 recipient_count), not 1001"
check '[ -z "$(row many2 recipient_domain)" ]' "the 1001st recipient's other domain was not seen"

# untracked, malformed, and a message with one part of each kind left alone
crlf > "$T/plain1.eml" <<'EOF'
From: news@sender.test
Message-ID: <plain1@sender.test>
Content-Type: text/plain

Just text, https://clinic.example/x
EOF
send "$A" plain1 --rcpt p4@patients.test
crlf > "$T/broken1.eml" <<'EOF'
From: news@sender.test
Message-ID: <broken1@sender.test>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/html

<a href="https://clinic.example/x">never closed</a>
EOF
send "$A" broken1 --rcpt p5@patients.test
check 'grep -q "\"replaced\": false" "$T/plain1.json" && grep -q "\"replaced\": false" "$T/broken1.json"' \
  "the plain or the malformed message was changed"
crlf > "$T/parts1.eml" <<'EOF'
From: news@sender.test
Message-ID: <parts1@sender.test>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=zz

--zz
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PGh0bWw+!!!notbase64!!!
--zz
Content-Type: text/html; charset=ISO-2022-JP
Content-Transfer-Encoding: 7bit

<html><body><a href="https://clinic.example/jp">x</a></body></html>
--zz
Content-Type: text/html; charset=utf-8

<html><body><a href="https://clinic.example/good">good part</a></body></html>
--zz--
EOF
send "$A" parts1 --rcpt p6@patients.test
check '[ "$(tokens parts1 c | wc -l)" = 1 ]' "the good part of parts1 was not rewritten (one link)"

# the store changes account 21's honeypot: used after account_settings_refresh (1s)
"$BIN" settings set --db "$DB" --account 21 honeypot on >/dev/null
sleep 1.2
html_msg alice2 > "$T/alice2.eml"
send "$A" alice2 --auth alice@clinic.test --rcpt p1@patients.test
check '[ "$(tokens alice2 h | wc -l)" = 1 ]' "account 21's new honeypot setting was not picked up"

# --- the counters moved by what was sent ----------------------------------------------
# rewritten: alice1 bob1 carol1 many1 many2 parts1 alice2 = 7; links 6*2 + 1 = 13
curl -s "$M/metrics" > "$T/m1"
want() { check "grep -qx '$1' '$T/m1'" "expected '$1' in /metrics: $(grep "^${1%% *}" "$T/m1" | head -3 | tr '\n' ' ')"; }
want 'trueopen_rewrite_messages_total{status="rewritten"} 7'
want 'trueopen_rewrite_messages_total{status="untracked"} 1'
want 'trueopen_rewrite_messages_total{status="parse"} 1'
want 'trueopen_rewrite_messages_total{status="dkim-signed"} 0'
want 'trueopen_rewrite_messages_total{status="store"} 0'
want 'trueopen_rewrite_links_total 13'
want 'trueopen_rewrite_parts_bad_total 1'
want 'trueopen_rewrite_parts_charset_total 1'
check 'grep -q "^trueopen_http_requests_total{route=\"metrics\",status=\"200\"} [0-9]" "$T/m1"' \
  "the listener's own request counters are missing"

# --- configuration wins over the store --------------------------------------------------
B=$T/b.sock
start_milter b "$B" --honeypot off
html_msg bob2 > "$T/bob2.eml"
send "$B" bob2 --auth bob@clinic.test --rcpt p2@patients.test
check '[ "$(tokens bob2 h | wc -l)" = 0 ] && [ "$(field bob2 c account)" = 22 ]' \
  "honeypot off in the configuration did not win over account 22's setting"
check '[ "$(stored_addr bob2)" = p2@patients.test ]' "account 22's keep_recipient_address was not applied"

# --- no recipient in any log; clean stop -------------------------------------------------
check '! grep -q "patients.test\|elsewhere.test" "$T/a.log" "$T/b.log"' "a milter log names a recipient"
kill "$A_PID"
rc=0; wait "$A_PID" || rc=$?; PIDS=("${PIDS[@]/$A_PID}")
check '[ "$rc" = 0 ]' "the milter did not stop cleanly on SIGTERM (exit $rc)"
check 'grep -q "stopped; rewritten 7," "$T/a.log"' "the stop line does not carry the counters"
check '! curl -s "$M/healthz" >/dev/null' "the metrics listener still answers after the stop"

# --- a bad metrics_listen is a usage error ---------------------------------------------
rc=0
"$BIN" milter --socket "unix:$T/c.sock" --keys "$KEYS" --db "$T/c.db" --tracking-url "$TRACK" \
  --account 5 --metrics-listen nonsense > "$T/c.log" 2>&1 || rc=$?
check '[ "$rc" = 2 ] && grep -q "metrics_listen" "$T/c.log" && [ ! -S "$T/c.sock" ] && [ ! -e "$T/c.db" ]' \
  "a bad metrics_listen did not exit 2 before opening the socket and the store (exit $rc)"
# a port in use: exit 1, nothing opened either
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(120)' \
  > "$T/busy.port" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/busy.port" ] && break; sleep 0.05; done
rc=0
"$BIN" milter --socket "unix:$T/c.sock" --keys "$KEYS" --db "$T/c.db" --tracking-url "$TRACK" \
  --account 5 --metrics-listen "127.0.0.1:$(cat "$T/busy.port")" > "$T/c2.log" 2>&1 || rc=$?
check '[ "$rc" = 1 ] && grep -q "metrics_listen: cannot listen" "$T/c2.log" && [ ! -e "$T/c.db" ]' \
  "a metrics port in use did not exit 1 before opening the store (exit $rc)"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
