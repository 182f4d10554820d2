#!/usr/bin/env bash
# Reports through the CLI: a campaign rewritten with `trueopen rewrite`, its traffic
# stored and classified with `trueopen import` (Apple MPP prefetch from an Apple relay
# address, a Safe Links click burst from Exchange space, a person through Gmail's image
# proxy who clicks). Checks both views, the account setting's effect on message status,
# the upgrade of a machine-opened message by a later human open, formats, another
# account's campaign, settings errors, API keys, the audit log, and retention with and
# without a legal hold.
set -euo pipefail
BIN=${TO_BIN:?}; SHARED=${TO_SHARED:?}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib/check.sh"
# a field of the JSON on stdin: jget PATH (e.g. other_view.unique_opens)
jget() { python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k)] if isinstance(v,list) else v[k]
print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1"; }
# the status of message N in `trueopen messages --format jsonl` output: mget N FIELD
mget() { python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m["id"]==int(sys.argv[1]): v=m[sys.argv[2]]; print(json.dumps(v) if isinstance(v,bool) or v is None else v)' "$1" "$2"; }

DB="$T/db"
"$BIN" keys new --keys "$T/keys" >/dev/null
SENT=$(( $(date +%s) - 3 * 86400 )) # three days ago
mail() {
  cat <<EOF
From: Clinic <news@clinic.example>
To: $1
Subject: Your checkup
Date: Wed, 03 Dec 2025 10:00:00 +0000
Message-ID: <$2@clinic.example>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 7bit

<html><body><p>Book your <a href="https://clinic.example/book">checkup</a> today.</p>
<p><a href="https://clinic.example/info">More</a></p></body></html>
EOF
}
rewrite() { # account campaign recipient n [sent]
  mail "$3" "m$4" | "$BIN" rewrite --keys "$T/keys" --db "$DB" --tracking-url https://t.example.net \
    --account "$1" --campaign "$2" --recipient "$3" --sent-at "${5:-$SENT}" > "$T/m$4.eml" 2>/dev/null
}
rewrite 1 spring p1@icloud.com 1
rewrite 1 spring p2@icloud.com 2
rewrite 1 spring p3@contoso.com 3
rewrite 1 spring p4@gmail.com 4
rewrite 2 private p5@example.org 5
rewrite 1 fresh p6@gmail.com 6 "$(date +%s)"
# tokens: tok N o|c|h [k]  (k-th click link)
tok() { grep -o "https://t.example.net/$2/[A-Za-z0-9_-]*" "$T/m$1.eml" | sed -n "${3:-1}p" | sed 's|.*/||'; }
APPLE=$(head -1 "$SHARED/data/ip-ranges/apple/icloud-private-relay-egress-ipv4-merged.txt" | cut -d/ -f1 | awk -F. '{print $1"."$2"."$3"."$4+1}')
CHROME='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
APPLEMAIL='Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)'
GPROXY='Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)'
rec() { # ts method route token ip ua
  printf '{"ts":%s,"method":"GET","path":"/%s/%s","ip":"%s","ua":"%s","headers":{"Accept":"*/*"}}\n' "$1" "$2" "$3" "$4" "$5"
}
{
  rec $((SENT+4)) o "$(tok 1 o)" "$APPLE" "Mozilla/5.0"
  rec $((SENT+5)) o "$(tok 2 o)" "$APPLE" "Mozilla/5.0"
  rec $((SENT+20)) c "$(tok 3 c 1)" 40.107.22.10 "$CHROME"
  rec $((SENT+20)) c "$(tok 3 c 2)" 40.107.22.11 "$CHROME"
  rec $((SENT+21)) h "$(tok 3 h)" 40.107.22.12 "$CHROME"
  rec $((SENT+3600)) o "$(tok 4 o)" 66.102.8.20 "$GPROXY"
  rec $((SENT+3700)) c "$(tok 4 c 1)" 198.51.100.23 "$CHROME"
  rec $((SENT+60)) o "$(tok 5 o)" 198.51.100.99 "$APPLEMAIL"
} > "$T/day1.jsonl"
out=$("$BIN" import --db "$DB" --keys "$T/keys" < "$T/day1.jsonl" 2>&1)
check 'echo "$out" | grep -q "imported 8 events"' "import: $out"

# --- both views ------------------------------------------------------------------------
"$BIN" report --db "$DB" --campaign spring --format json > "$T/p.json"
check '[ "$(jget view < "$T/p.json")" = people ]' "default view from the setting is people"
check '[ "$(jget view_source < "$T/p.json")" = account_setting ]' "view source named"
check '[ "$(jget sent < "$T/p.json")" = 4 ]' "sent 4"
check '[ "$(jget unique_opens < "$T/p.json")" = 1 ]' "people: one opener (the Gmail reader)"
check '[ "$(jget unique_clicks < "$T/p.json")" = 1 ]' "people: one clicker"
check '[ "$(jget click_to_open_rate < "$T/p.json")" = 1.0 ]' "click-to-open 1"
check '[ "$(jget other_view.unique_opens < "$T/p.json")" = 4 ]' "all view: four opened"
check '[ "$(jget automated_excluded < "$T/p.json")" = 4 ]' "four automated opens/clicks left out"
check '[ "$(jget honeypot_hits < "$T/p.json")" = 1 ]' "honeypot hit counted apart"
check '[ "$(jget estimate.label < "$T/p.json")" = estimate ] && jget estimate.method < "$T/p.json" | grep -q comparable' "estimate labelled with its method"
check '[ "$(jget estimate.apple_mpp_messages < "$T/p.json")" = 2 ]' "two Apple MPP messages"
python3 - "$T/p.json" <<'PY' && ok || bad "by_agent breakdown"
import json, sys
r = json.load(open(sys.argv[1]))
a = {x["agent"]: x for x in r["by_agent"]}
assert a["apple_mpp"]["opens"] == 2 and a["apple_mpp"]["automated"] == 2, a
assert a["safe_links"]["clicks"] == 2 and a["safe_links"]["automated"] >= 2, a
assert all(x["agent"] != "apple_mail" for x in r["by_agent"]), "another account's agent leaked"
assert len(r["links"]) == 2 and r["links"][0]["url"].startswith("https://clinic.example/"), r["links"]
assert r["hourly"], r
PY
"$BIN" report --db "$DB" --campaign spring --include-automated --format json > "$T/a.json"
check '[ "$(jget view < "$T/a.json")" = all ] && [ "$(jget view_source < "$T/a.json")" = request ]' "--include-automated"
check '[ "$(jget unique_opens < "$T/a.json")" = 4 ] && [ "$(jget unique_clicks < "$T/a.json")" = 2 ]' "all view counts machines"
check '[ "$(jget automated_excluded < "$T/a.json")" = 0 ]' "all view excludes nothing"
check '"$BIN" report --db "$DB" --campaign spring --exclude-automated | grep -q "^view: people (as requested)"' "table names the view"
"$BIN" report --db "$DB" --campaign spring --format csv > "$T/r.csv"
check 'grep -q "^campaign,spring,view,people" "$T/r.csv" && grep -q "^by_agent,apple_mpp,opens,2" "$T/r.csv"' "csv"
check '"$BIN" report --db "$DB" --campaign spring --both-views | grep -q "people only.*all events"' "side by side"
check '! "$BIN" report --db "$DB" --campaign spring --exclude-automated --include-automated 2>/dev/null' "contradictory flags refused"
set +e; "$BIN" report --db "$DB" --campaign spring --format xml >/dev/null 2>&1; rc=$?; set -e
check '[ $rc -eq 2 ]' "bad format is a usage error"
# another account's campaign is not found under this account
set +e; "$BIN" report --db "$DB" --campaign private --account 1 >/dev/null 2>"$T/err"; rc=$?; set -e
check '[ $rc -eq 1 ] && grep -q "no campaign" "$T/err"' "account 1 does not see account 2's campaign"
check '"$BIN" campaigns --db "$DB" --account 1 --format json | grep -q spring && ! "$BIN" campaigns --db "$DB" --account 1 --format json | grep -q private' "campaigns per account"

# --- message status and the setting ------------------------------------------------------
"$BIN" messages --db "$DB" --campaign spring --format jsonl > "$T/m.jsonl"
check '[ "$(mget 2 opened < "$T/m.jsonl")" = false ] && [ "$(mget 2 view < "$T/m.jsonl")" = people ]' "MPP-only message not opened for people"
check '[ "$(mget 4 opened < "$T/m.jsonl")" = true ] && [ "$(mget 4 clicked < "$T/m.jsonl")" = true ]' "Gmail reader opened and clicked"
check '[ "$(mget 3 opened < "$T/m.jsonl")" = false ]' "Safe Links clicks do not open the message"
check '"$BIN" settings set --db "$DB" --account 1 suppress_automated off | grep -q "suppress_automated = off"' "setting off"
check '[ "$("$BIN" settings get --db "$DB" --account 1 suppress_automated)" = off ]' "setting read back"
"$BIN" messages --db "$DB" --campaign spring --format jsonl > "$T/m2.jsonl"
check '[ "$(mget 2 opened < "$T/m2.jsonl")" = true ] && [ "$(mget 2 view < "$T/m2.jsonl")" = all ]' "with suppression off the MPP open marks it opened"
check '[ "$(mget 3 opened < "$T/m2.jsonl")" = true ]' "and the gateway click too"
check '[ "$("$BIN" report --db "$DB" --campaign spring --format json | jget view)" = all ]' "report default follows the setting"
"$BIN" messages --db "$DB" --campaign spring --exclude-automated --format jsonl > "$T/m3.jsonl"
check '[ "$(mget 2 opened < "$T/m3.jsonl")" = false ]' "the other view on request"
"$BIN" settings set --db "$DB" --account 1 suppress_automated on >/dev/null
set +e; "$BIN" settings set --db "$DB" --account 1 suppress_automated maybe 2>"$T/err"; rc=$?; set -e
check '[ $rc -eq 2 ] && grep -q "on or off" "$T/err"' "bad value refused"
check '[ "$("$BIN" settings get --db "$DB" --account 1 suppress_automated)" = on ]' "and nothing changed"
check '! "$BIN" settings set --db "$DB" --account 1 colour blue 2>/dev/null' "unknown setting refused"
check '! "$BIN" settings set --db "$DB" --account 1 retention_days 0 2>/dev/null' "retention_days 0 refused"
# the account's honeypot setting reaches the rewriter
check 'grep -q "/h/" "$T/m1.eml"' "honeypot link by default"
"$BIN" settings set --db "$DB" --account 1 honeypot off >/dev/null
rewrite 1 later p7@gmail.com 7 "$(date +%s)"
check '! grep -q "/h/" "$T/m7.eml" && grep -q "/o/" "$T/m7.eml"' "honeypot off: tracked, no honeypot"
"$BIN" settings set --db "$DB" --account 1 honeypot on >/dev/null

# --- a later human open upgrades a machine-opened message --------------------------------
check '[ "$(mget 1 opened < "$T/m.jsonl")" = false ]' "message 1: only MPP so far"
rec $((SENT+7200)) o "$(tok 1 o)" 198.51.100.40 "$APPLEMAIL" > "$T/day2.jsonl"
"$BIN" import --db "$DB" --keys "$T/keys" < "$T/day2.jsonl" >/dev/null 2>&1
"$BIN" messages --db "$DB" --campaign spring --format jsonl > "$T/m4.jsonl"
check '[ "$(mget 1 opened < "$T/m4.jsonl")" = true ]' "message 1 opened by a person now"
check 'mget 1 first_open_at < "$T/m4.jsonl" | grep -q "^$(date -u -d @$((SENT+7200)) +%Y-%m-%dT%H:%M:%S)"' "first open is the person's"
check '[ "$("$BIN" report --db "$DB" --campaign spring --format json | jget unique_opens)" = 2 ]' "people openers 2"

# --- API keys -------------------------------------------------------------------------------
"$BIN" apikey new --db "$DB" --account 1 > "$T/k"
KEY=$(tail -1 "$T/k")
check 'echo "$KEY" | grep -Eq "^tok_[A-Za-z0-9_-]{43}$"' "last line is the key"
"$BIN" apikey list --db "$DB" --account 1 > "$T/kl"
check '! grep -q "$KEY" "$T/kl" && grep -q "${KEY:0:12}" "$T/kl" && grep -q active "$T/kl"' "list shows the prefix, never the key"
check '! grep -rq "$KEY" "$DB"' "the key is not stored in clear"
check '"$BIN" apikey revoke --db "$DB" --account 1 1 | grep -q revoked' "revoke"
check '! "$BIN" apikey revoke --db "$DB" --account 2 1 2>/dev/null' "another account cannot revoke it"
check '"$BIN" apikey list --db "$DB" --account 1 | grep -q revoked' "listed as revoked"

# --- retention with and without a hold ---------------------------------------------------
"$BIN" settings set --db "$DB" --account 1 retention_days 1 >/dev/null
"$BIN" hold set --db "$DB" --campaign spring >/dev/null
out=$("$BIN" retain --db "$DB")
check 'echo "$out" | grep -q "1 under legal hold"' "retain reports the hold: $out"
check '[ "$("$BIN" report --db "$DB" --campaign spring --format json | jget sent)" = 4 ]' "held campaign kept"
check '[ "$("$BIN" report --db "$DB" --campaign spring --format json | jget legal_hold)" = true ]' "hold shown"
check '[ "$("$BIN" events --db "$DB" --campaign spring --format jsonl | wc -l)" -eq 8 ]' "held events kept"
check '! "$BIN" hold set --db "$DB" --campaign nothing 2>/dev/null' "hold on a missing campaign refused"
"$BIN" hold clear --db "$DB" --campaign spring >/dev/null
out=$("$BIN" retain --db "$DB")
check 'echo "$out" | grep -q "deleted 4 messages and 8 events"' "retain after the hold: $out"
check '[ "$("$BIN" report --db "$DB" --campaign spring --format json | jget sent)" = 0 ]' "old messages gone"
check '[ "$("$BIN" events --db "$DB" --campaign spring --format jsonl | wc -l)" -eq 0 ]' "old events gone"
check '[ "$("$BIN" report --db "$DB" --campaign fresh --format json | jget sent)" = 1 ]' "a campaign sent today stays"
check '[ "$("$BIN" report --db "$DB" --campaign private --format json | jget sent)" = 1 ]' "account 2 keeps its 365 days"

# --- the audit log ---------------------------------------------------------------------------
"$BIN" audit --db "$DB" --format jsonl > "$T/audit.jsonl"
check 'grep -q "\"action\":\"settings set\",\"target\":\"suppress_automated=off\"" "$T/audit.jsonl"' "setting change audited"
check 'grep -q "\"action\":\"apikey new\"" "$T/audit.jsonl" && grep -q "\"action\":\"apikey revoke\"" "$T/audit.jsonl"' "key changes audited"
check 'grep -q "\"action\":\"hold set\"" "$T/audit.jsonl" && grep -q "\"action\":\"retain\"" "$T/audit.jsonl"' "hold and retention audited"
check '! grep -q "$KEY" "$T/audit.jsonl"' "no key in the audit log"
check 'grep -q "\"via\":\"cli\",\"account\":1,\"key_id\":null,\"action\":\"report\",\"target\":\"campaign spring\",\"status\":0" "$T/audit.jsonl"' "report reads audited"
check '"$BIN" audit --db "$DB" --format table | head -1 | grep -q "action"' "audit table"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
