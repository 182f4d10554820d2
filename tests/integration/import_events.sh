#!/usr/bin/env bash
# trueopen import / events / reclassify through the CLI: access records are stored
# and classified as if they had arrived live at their time; bad lines are reported
# with their number and skipped; forged tokens record nothing.
set -euo pipefail
BIN=${TO_BIN:?}; SHARED=${TO_SHARED:?}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib/check.sh"

"$BIN" keys new --keys "$T/keys" >/dev/null
SENT=1796292000
PIX=$("$BIN" token seal --keys "$T/keys" --account 1 --campaign 1 --message 1 --recipient 1 --sent-at $SENT)
CLK=$("$BIN" token seal --keys "$T/keys" --account 1 --campaign 1 --message 1 --recipient 1 --sent-at $SENT --link 'https://clinic.example/portal')
# An Apple Private Relay egress address (the first published range, first host).
APPLE=$(head -1 "$SHARED/data/ip-ranges/apple/icloud-private-relay-egress-ipv4-merged.txt" | cut -d/ -f1 | awk -F. '{print $1"."$2"."$3"."$4+1}')
cat > "$T/access.jsonl" <<JSON
{"ts":$((SENT+4)),"method":"GET","path":"/o/$PIX.gif","ip":"$APPLE","ua":"Mozilla/5.0","headers":{}}
{"ts":"2026-12-03T11:00:00Z","method":"GET","path":"/o/$PIX","ip":"198.51.100.23","ua":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)","headers":{"Accept":"image/*"}}
{"ts":"2026-12-03T11:00:09Z","method":"GET","path":"/c/$CLK","ip":"198.51.100.23","ua":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15","headers":{"DNT":"1"}}
{"ts":"2026-12-03T11:00:10Z","method":"GET","path":"/c/${CLK}x","ip":"198.51.100.23","ua":"curl/8.0"}
{"ts":"2026-12-03T11:00:10Z", this is not json
{"ts":"last tuesday","method":"GET","path":"/o/$PIX","ip":"198.51.100.23","ua":"x"}
{"ts":"2026-12-03T11:00:11Z","method":"POST","path":"/o/$PIX","ip":"198.51.100.23","ua":"x"}

JSON
out=$("$BIN" import --db "$T/db" --keys "$T/keys" < "$T/access.jsonl" 2>"$T/err")
check '[ "$out" = "imported 3 events, skipped 4 lines" ]' "import summary: $out"
check 'grep -q "line 4: the token does not open" "$T/err"' "forged token reported by line"
check 'grep -q "line 5: not valid JSON" "$T/err"' "bad JSON reported by line"
check 'grep -q "line 6: \"ts\"" "$T/err"' "bad time reported by line"
check 'grep -q "line 7: \"method\"" "$T/err"' "bad method reported by line"
check '! grep -q "$PIX" "$T/err" && ! grep -q clinic "$T/err"' "no token or URL in errors"

"$BIN" events --db "$T/db" --format jsonl > "$T/events.jsonl"
check '[ $(wc -l < "$T/events.jsonl") -eq 3 ]' "three events stored"
first=$(sed -n 1p "$T/events.jsonl")
check 'echo "$first" | grep -q "\"verdict\":\"automated\""' "MPP prefetch automated: $first"
check 'echo "$first" | grep -q "\"agent\":\"apple_mpp\""' "MPP agent named"
check 'echo "$first" | grep -q "\"ts\":\"2026-12-03T10:00:04.000000Z\""' "import keeps the record time"
second=$(sed -n 2p "$T/events.jsonl")
check 'echo "$second" | grep -q "\"verdict\":\"human\""' "later Apple Mail open is human: $second"
third=$(sed -n 3p "$T/events.jsonl")
check 'echo "$third" | grep -q "\"route\":\"click\""' "click stored"
check 'echo "$third" | grep -q "\"url\":\"https://clinic.example/portal\""' "click keeps its destination"
check 'echo "$third" | grep -q "\"dnt\":\"1\""' "headers kept"
check 'echo "$third" | grep -q "\"verdict\":\"human\""' "DNT is no evidence of a machine"

n=$("$BIN" events --db "$T/db" --since 2026-12-03T11:00:05Z --format jsonl | wc -l)
check '[ "$n" -eq 1 ]' "--since filters ($n)"
"$BIN" events --db "$T/db" --format table > "$T/table"
check '[ $(wc -l < "$T/table") -eq 4 ] && head -1 "$T/table" | grep -q verdict' "table format"
check '! "$BIN" events --db "$T/db" --format xml 2>/dev/null' "bad format refused"

out=$("$BIN" reclassify --db "$T/db")
check 'echo "$out" | grep -q "^reclassified 3 events with rules version"' "reclassify: $out"
"$BIN" events --db "$T/db" --format jsonl > "$T/events2.jsonl"
check 'cmp -s "$T/events.jsonl" "$T/events2.jsonl"' "reclassify with the same rules changes nothing"

# A foreign key ring records nothing.
"$BIN" keys new --keys "$T/other" >/dev/null
out=$("$BIN" import --db "$T/db" --keys "$T/other" < "$T/access.jsonl" 2>/dev/null)
check '[ "$out" = "imported 0 events, skipped 7 lines" ]' "foreign ring: $out"
check '[ $("$BIN" events --db "$T/db" --format jsonl | wc -l) -eq 3 ]' "still three events"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
