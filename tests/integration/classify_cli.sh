#!/usr/bin/env bash
# trueopen classify and trueopen rules list/check/update, driven through the CLI.
set -euo pipefail
: "${TO_BIN:?}" "${TO_SRC:?}"
tmp=$(mktemp -d)
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
CHROME='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'
SAFARI='Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1'

# --- classify: one output line per good input line, in order; bad lines on stderr.
cat > "$tmp/in.jsonl" <<EOT
{"type":"open","ip":"104.28.28.1","ua":"Mozilla/5.0","seconds_since_send":5,"message":"m1"}
{"type":"click","ip":"104.28.28.1","ua":"$SAFARI","seconds_since_send":3600}
{"type":"open","ip":"66.249.84.1","ua":"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)","seconds_since_send":600}
this is not json
{"type":"open","ip":"66.249.84.1","ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0","seconds_since_send":3}
{"type":"click","ip":"40.107.12.34","ua":"$CHROME","seconds_since_send":3600}
{"type":"click","ip":"198.51.100.7","ua":"$CHROME","seconds_since_send":3600,"headers":{"DNT":"1","Sec-GPC":"1"}}
{"type":"click","ip":"3.5.140.9","ua":"$CHROME","seconds_since_send":40,"provider":"proofpoint"}
{"type":"sideways"}
{"type":"open","ip":"198.51.100.7","ua":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)","seconds_since_send":7200,"message":"m1"}
{"type":"click","ip":"198.51.100.7","ua":"$CHROME","message":"m2","link":1,"ts":"2026-12-03T10:00:00Z"}
{"type":"click","ip":"198.51.100.7","ua":"$CHROME","message":"m2","link":2,"ts":"2026-12-03T10:00:00.400Z"}
{"type":"click","ip":"198.51.100.7","ua":"curl/8.4.0","method":"HEAD"}
EOT
set +e
"$TO_BIN" classify --rules "$TO_SRC/data/rules" < "$tmp/in.jsonl" > "$tmp/out.jsonl" 2> "$tmp/err.txt"
rc=$?
set -e
[ "$rc" = 1 ] || fail "classify with bad lines should exit 1, got $rc"
grep -q 'line 4: not JSON' "$tmp/err.txt" || fail "line 4 not reported: $(cat "$tmp/err.txt")"
grep -q 'line 9: "type" must be' "$tmp/err.txt" || fail "line 9 not reported"
[ "$(wc -l < "$tmp/out.jsonl")" = 11 ] || fail "expected 11 output lines, got $(wc -l < "$tmp/out.jsonl")"
line() { sed -n "${1}p" "$tmp/out.jsonl"; }
expect() { # line-number jq-expression
  line "$1" | jq -e "$2" >/dev/null || fail "output line $1: $(line "$1") does not satisfy $2"
}
expect 1 '.verdict=="automated" and .agent=="apple_mpp" and .certainty=="certain" and (.reasons|index("ua_mpp")) and (.reasons|index("ip_apple_relay"))'
expect 2 '.verdict=="human" and .agent=="safari"'
expect 3 '.verdict=="human" and .agent=="gmail_proxy" and .via_proxy==true'
expect 4 '.verdict=="automated" and .agent=="gmail_prefetch" and (.reasons|index("early_after_send"))'
expect 5 '.verdict=="automated" and .agent=="safe_links" and (.reasons|index("ip_microsoft_eop"))'
expect 6 '.verdict=="human" and .agent=="chrome" and .certainty=="certain"'
expect 7 '.verdict=="automated" and .agent=="proofpoint" and (.reasons|index("provider_gateway"))'
expect 8 '.verdict=="human" and (.reasons|index("msg_human_upgrade"))'
expect 9 '.verdict=="automated" and (.reasons|index("msg_click_burst")) and .event_verdict=="human"'
expect 10 '.verdict=="automated" and (.reasons|index("msg_click_burst"))'
expect 11 '.verdict=="automated" and .agent=="curl"'
for i in $(seq 1 11); do expect "$i" '(.rules_version|test("^[0-9a-f]{8}$")) and (.via_proxy|type=="boolean")'; done

# Clean input exits 0; a missing rules dir is a clear error.
head -1 "$tmp/in.jsonl" | "$TO_BIN" classify --rules "$TO_SRC/data/rules" > /dev/null || fail "clean input should exit 0"
if "$TO_BIN" classify --rules "$tmp/nope" < /dev/null 2> "$tmp/err.txt"; then fail "missing rules accepted"; fi
grep -q 'rules.conf' "$tmp/err.txt" || fail "missing rules error unclear"

# --- rules list / check
"$TO_BIN" rules list --rules "$TO_SRC/data/rules" > "$tmp/list.txt"
grep -q 'apple-relay-ipv6.txt' "$tmp/list.txt" || fail "rules list lacks the Apple file"
grep -q '^rules_version: ' "$tmp/list.txt" || fail "rules list lacks the version"
"$TO_BIN" rules check --rules "$TO_SRC/data/rules" | grep -q ': ok$' || fail "rules check"
cp -r "$TO_SRC/data/rules" "$tmp/rules"
rm -f "$tmp/rules/.lock"
echo "x bot (unclosed" >> "$tmp/rules/ua-bot.rules"
if "$TO_BIN" rules check --rules "$tmp/rules" 2> "$tmp/err.txt"; then fail "bad pattern accepted"; fi
grep -q 'ua-bot.rules:[0-9]*: bad pattern' "$tmp/err.txt" || fail "bad pattern not located: $(cat "$tmp/err.txt")"
cp "$TO_SRC/data/rules/ua-bot.rules" "$tmp/rules/ua-bot.rules"

# --- rules update from a directory of feeds (file://), in the vendors' formats.
mkdir "$tmp/feeds"
for f in $(awk '$1=="range"{print $4}' "$tmp/rules/rules.conf"); do cp "$tmp/rules/$f" "$tmp/feeds/$f"; done
# A new EOP range (TEST-NET-3 stands in for it), and Apple's full CSV shape.
echo "203.0.113.0/24" >> "$tmp/feeds/microsoft-eop-ipv4.txt"
sed 's/$/,US,US-CA,Los Angeles,/' "$TO_SRC/data/rules/apple-relay-ipv4.txt" > "$tmp/feeds/apple-relay-ipv4.txt"
before=$(echo "{\"type\":\"click\",\"ip\":\"203.0.113.5\",\"ua\":\"$CHROME\",\"seconds_since_send\":3600}" | "$TO_BIN" classify --rules "$tmp/rules")
echo "$before" | jq -e '.verdict=="human"' >/dev/null || fail "before update: $before"
"$TO_BIN" rules update --rules "$tmp/rules" --from "file://$tmp/feeds" > "$tmp/upd.txt" || fail "update: $(cat "$tmp/upd.txt")"
grep -q 'microsoft-eop-ipv4.txt .* 148 ranges (was 147)' "$tmp/upd.txt" || fail "update report: $(cat "$tmp/upd.txt")"
grep -q 'aws-ip-ranges.json .*unchanged' "$tmp/upd.txt" || fail "unchanged file not reported"
# EOP (new range), Apple v4 (from the CSV) and Apple v6 (now with its provenance line).
grep -q '3 file(s) updated' "$tmp/upd.txt" || fail "update count: $(cat "$tmp/upd.txt")"
head -1 "$tmp/rules/apple-relay-ipv4.txt" | grep -q 'derived by trueopen rules update' || fail "no provenance line"
grep -q ',' "$tmp/rules/apple-relay-ipv4.txt" && fail "CSV columns kept in the derived file"
# The same feeds again: nothing to do.
"$TO_BIN" rules update --rules "$tmp/rules" --from "file://$tmp/feeds" > "$tmp/upd2.txt" || fail "second update"
grep -q '0 file(s) updated' "$tmp/upd2.txt" || fail "update is not idempotent: $(cat "$tmp/upd2.txt")"
after=$(echo "{\"type\":\"click\",\"ip\":\"203.0.113.5\",\"ua\":\"$CHROME\",\"seconds_since_send\":3600}" | "$TO_BIN" classify --rules "$tmp/rules")
echo "$after" | jq -e '.verdict=="automated" and .agent=="safe_links"' >/dev/null || fail "after update: $after"
ls -a "$tmp/rules" | grep -q '^\.update' && fail "staging directory left behind"

# The vendors' own shapes: Azure service tags (EOP), the Microsoft 365 endpoints list
# (Exchange), Bing's JSON; each is read, filtered to its family and written as CIDR lines.
cat > "$tmp/feeds/microsoft-eop-ipv4.txt" <<EOT
{"changeNumber":1,"cloud":"Public","values":[
 {"name":"AzureCloud","id":"AzureCloud","properties":{"addressPrefixes":["20.0.0.0/11"]}},
 {"name":"EOPExtPublished","id":"EOPExtPublished","properties":{"addressPrefixes":["40.92.0.0/15","40.107.0.0/16","52.100.0.0/14","104.47.0.0/17","198.18.0.0/24","2a01:111:f400::/48"]}}]}
EOT
cat > "$tmp/feeds/microsoft-exchange-ipv4.txt" <<EOT
[{"id":1,"serviceArea":"Common","ips":["13.107.6.171/32"]},
 {"id":2,"serviceArea":"Exchange","ips":["40.92.0.0/15","40.107.0.0/16","2603:1006::/40"]},
 {"id":3,"serviceArea":"Exchange","urls":["outlook.office.com"]},
 {"id":4,"serviceArea":"Exchange","ips":["52.100.0.0/14","104.47.0.0/17"]}]
EOT
cp "$tmp/feeds/microsoft-exchange-ipv4.txt" "$tmp/feeds/microsoft-exchange-ipv6.txt"
printf '{"creationTime":"2026-01-01","prefixes":[{"ipv4Prefix":"157.55.39.0/24"},{"ipv4Prefix":"207.46.13.0/24"},{"ipv6Prefix":"2620:1ec::/36"}]}' > "$tmp/feeds/bing-bingbot-ipv4.txt"
"$TO_BIN" rules update --rules "$tmp/rules" --from "file://$tmp/feeds" --force > "$tmp/upd.txt" || fail "vendor-format update: $(cat "$tmp/upd.txt")"
grep -q 'microsoft-eop-ipv4.txt .* 5 ranges' "$tmp/upd.txt" || fail "Azure tags: $(cat "$tmp/upd.txt")"
grep -q 'microsoft-exchange-ipv4.txt .* 4 ranges' "$tmp/upd.txt" || fail "M365 v4: $(cat "$tmp/upd.txt")"
grep -q 'microsoft-exchange-ipv6.txt .* 1 ranges' "$tmp/upd.txt" || fail "M365 v6: $(cat "$tmp/upd.txt")"
grep -q 'bing-bingbot-ipv4.txt .* 2 ranges' "$tmp/upd.txt" || fail "Bing JSON: $(cat "$tmp/upd.txt")"
grep -qx '198.18.0.0/24' "$tmp/rules/microsoft-eop-ipv4.txt" || fail "EOP range not written"
grep -q '2a01' "$tmp/rules/microsoft-eop-ipv4.txt" && fail "v6 range in the v4 file"
out=$(echo "{\"type\":\"click\",\"ip\":\"198.18.0.9\",\"ua\":\"$CHROME\",\"seconds_since_send\":3600}" | "$TO_BIN" classify --rules "$tmp/rules")
echo "$out" | jq -e '.agent=="safe_links"' >/dev/null || fail "range from the Azure feed not used: $out"
# Restore the derived copies for what follows.
for f in microsoft-eop-ipv4.txt microsoft-exchange-ipv4.txt microsoft-exchange-ipv6.txt bing-bingbot-ipv4.txt; do
  cp "$TO_SRC/data/rules/$f" "$tmp/feeds/$f"
done
"$TO_BIN" rules update --rules "$tmp/rules" --from "file://$tmp/feeds" --force > /dev/null || fail "restore"

# A broken feed changes nothing.
sum=$(cat "$tmp/rules"/* | md5sum)
echo "garbage" >> "$tmp/feeds/bing-bingbot-ipv4.txt"
if "$TO_BIN" rules update --rules "$tmp/rules" --from "file://$tmp/feeds" > /dev/null 2> "$tmp/err.txt"; then fail "bad feed accepted"; fi
grep -q 'bing-bingbot-ipv4.txt:[0-9]*: not an address range' "$tmp/err.txt" || fail "bad feed error: $(cat "$tmp/err.txt")"
grep -q 'nothing changed' "$tmp/err.txt" || fail "bad feed: no 'nothing changed'"
[ "$sum" = "$(cat "$tmp/rules"/* | md5sum)" ] || fail "a failed update changed files"
cp "$tmp/rules/bing-bingbot-ipv4.txt" "$tmp/feeds/bing-bingbot-ipv4.txt"
# A feed that shrank by more than half is refused unless --force.
head -3 "$tmp/feeds/microsoft-eop-ipv4.txt" > "$tmp/small" && mv "$tmp/small" "$tmp/feeds/microsoft-eop-ipv4.txt"
if "$TO_BIN" rules update --rules "$tmp/rules" --from "$tmp/feeds" > /dev/null 2> "$tmp/err.txt"; then fail "shrunk feed accepted"; fi
grep -q 'refusing (use --force)' "$tmp/err.txt" || fail "shrink error: $(cat "$tmp/err.txt")"
"$TO_BIN" rules update --rules "$tmp/rules" --from "$tmp/feeds" --force > /dev/null || fail "--force"
[ "$(grep -c . "$tmp/rules/microsoft-eop-ipv4.txt")" = 3 ] || fail "--force did not apply"

# --- rules update over HTTP from a local server on a free port.
cp "$TO_SRC/data/rules/microsoft-eop-ipv4.txt" "$tmp/feeds/microsoft-eop-ipv4.txt"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()')
(cd "$tmp/feeds" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
srv=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/rules.conf" -o /dev/null 2>/dev/null && break; python3 -c 'import socket,sys;s=socket.socket();sys.exit(s.connect_ex(("127.0.0.1",'"$port"')))' && break; sleep 0.1; done
"$TO_BIN" rules update --rules "$tmp/rules" --from "http://127.0.0.1:$port" > "$tmp/upd.txt" || fail "http update"
grep -q 'microsoft-eop-ipv4.txt .* 147 ranges (was 3)' "$tmp/upd.txt" || fail "http update report: $(cat "$tmp/upd.txt")"
if "$TO_BIN" rules update --rules "$tmp/rules" --from "http://127.0.0.1:$port/missing" > /dev/null 2> "$tmp/err.txt"; then fail "404 accepted"; fi
grep -q '404' "$tmp/err.txt" || fail "404 error: $(cat "$tmp/err.txt")"
"$TO_BIN" rules check --rules "$tmp/rules" > /dev/null || fail "rules broken after updates"
echo "classify_cli: ok"
