#!/usr/bin/env bash
# The foundation through the CLI: keys new|list|retire, token seal|open (fields,
# forged/altered/truncated/foreign tokens), config check|dump|docs.
set -euo pipefail
BIN=${TO_BIN:?}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib/check.sh"

# keys
out=$("$BIN" keys new --keys "$T/ring")
check '[ "$out" = "key 1 added to $T/ring" ]' "keys new: $out"
check '[ "$(stat -c %a "$T/ring")" = 600 ]' "ring is 0600"
old=$("$BIN" token seal --keys "$T/ring" --account 3 --campaign 4 --message 5 --recipient 6 --sent-at 1796292000)
"$BIN" keys new --keys "$T/ring" >/dev/null
check '[ $("$BIN" keys list --keys "$T/ring" | grep -c active) -eq 2 ]' "two active keys"
new=$("$BIN" token seal --keys "$T/ring" --account 3 --campaign 4 --message 5 --recipient 6 --sent-at 1796292000)
json=$("$BIN" token open --keys "$T/ring" "$new")
check '[ "$json" = "{\"version\":1,\"key_id\":2,\"account\":3,\"campaign\":4,\"message\":5,\"recipient\":6,\"link\":0,\"sent_at\":1796292000,\"provider\":0,\"provider_name\":\"unknown\",\"url\":null}" ]' "token open fields: $json"
check '"$BIN" token open --keys "$T/ring" "$old" | grep -q "\"key_id\":1"' "older key still opens"
clk=$("$BIN" token seal --keys "$T/ring" --account 3 --campaign 4 --message 5 --recipient 6 --link 'https://example.com/a?b=1&c=%20' --provider gmail)
json=$("$BIN" token open --keys "$T/ring" "$clk")
check 'echo "$json" | grep -q "\"link\":1,.*\"provider\":1,\"provider_name\":\"gmail\",\"url\":\"https://example.com/a?b=1&c=%20\""' "click token: $json"
check '! echo "$clk" | grep -q example' "URL not readable in the token"
# forged, altered, truncated, foreign
check '! "$BIN" token open --keys "$T/ring" "AAAA$new" 2>/dev/null' "forged refused"
alt="${new:0:30}$( [ "${new:30:1}" = A ] && echo B || echo A )${new:31}"
check '! "$BIN" token open --keys "$T/ring" "$alt" 2>/dev/null' "altered refused"
check '! "$BIN" token open --keys "$T/ring" "${new:0:40}" 2>/dev/null' "truncated refused"
"$BIN" keys new --keys "$T/foreign" >/dev/null
check '! "$BIN" token open --keys "$T/foreign" "$new" 2>/dev/null' "foreign refused"
err=$("$BIN" token open --keys "$T/foreign" "$new" 2>&1 || true)
check '[ "$err" = "trueopen token open: token does not open" ]' "error names no token: $err"
# retire
"$BIN" keys retire --keys "$T/ring" 1 >/dev/null
check '! "$BIN" token open --keys "$T/ring" "$old" 2>/dev/null' "retired key opens nothing"
check '"$BIN" token open --keys "$T/ring" "$new" >/dev/null' "active key still opens"
check '! "$BIN" keys retire --keys "$T/ring" 99 2>/dev/null' "retiring a missing key fails"
chmod 644 "$T/ring"
check '! "$BIN" keys list --keys "$T/ring" 2>/dev/null' "loose mode refused"
err=$("$BIN" keys list --keys "$T/ring" 2>&1 || true)
check 'echo "$err" | grep -q "0600"' "mode error says 0600: $err"
chmod 600 "$T/ring"
check '! "$BIN" token seal --keys "$T/ring" --account x 2>/dev/null' "bad flag value refused"
rc=0; "$BIN" token seal --keys "$T/ring" --no-such 2>/dev/null || rc=$?
check '[ $rc -eq 2 ]' "unknown flag is a usage error ($rc)"

# config
printf 'db = %s/x.db\nqueue_max = 100\n' "$T" > "$T/good.conf"
check '"$BIN" config check "$T/good.conf" | grep -q ": ok"' "config check ok"
printf 'db = x\n\nqueue_max = lots\n' > "$T/bad.conf"
err=$("$BIN" config check "$T/bad.conf" 2>&1 || true)
check 'echo "$err" | grep -q "bad.conf:3: queue_max: .lots. is not a valid integer"' "bad value names file and line: $err"
printf 'no_such_setting = 1\n' > "$T/bad2.conf"
err=$("$BIN" config check "$T/bad2.conf" 2>&1 || true)
check 'echo "$err" | grep -q "bad2.conf:1: unknown setting"' "unknown setting named: $err"
check '! "$BIN" config check "$T/bad2.conf" 2>/dev/null' "config check fails on a bad file"
dump=$("$BIN" config dump --config "$T/good.conf")
check 'echo "$dump" | grep -q "^queue_max = 100$"' "dump shows the file's value"
check 'echo "$dump" | grep -q "^batch_rows = 2000$"' "dump shows defaults"
dump=$("$BIN" config dump --config "$T/good.conf" --queue-max 7)
check 'echo "$dump" | grep -q "^queue_max = 7$"' "flags override the file"
"$BIN" config docs > "$T/docs.md"
check 'grep -q "^| queue_max | \`--queue-max\` |" "$T/docs.md"' "config docs"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
