#!/usr/bin/env bash
# The golden cases through the product CLI: `trueopen rewrite` on every
# tests/golden/rewrite/<case>.eml with the golden key (the same bytes the unit test's
# fixture uses, written as a ring file) and a real SQLite store. Tokens carry fresh
# random nonces and the store's ids, so outputs are compared with <case>.out.eml with
# every token masked, part by part after transfer decoding; each token of the output and
# the token at the same place in the golden file must both open and name the same link
# index, URL and account. Unchanged cases must come out byte for byte as they went in.
# Then `trueopen messages` must list one row per rewritten case, and bad flags exit 2.
set -euo pipefail
BIN=${TO_BIN:?TO_BIN unset}
SRC=${TO_SRC:?TO_SRC unset}
T=$(mktemp -d /tmp/trueopen-rewrite-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
G=$SRC/tests/golden/rewrite
# the fixture key: byte i = i*7+1 (tests/unit/rewrite/rw_fixture.h)
key=$(python3 -c 'import base64; print(base64.urlsafe_b64encode(bytes((i*7+1)&255 for i in range(32))).decode().rstrip("="))')
echo "1 1764756000 active $key" > "$T/keys.ring"
chmod 600 "$T/keys.ring"
DB=$T/t.db
changed=0
for in in "$G"/*.eml; do
  case $in in *.out.eml) continue ;; esac
  name=$(basename "$in" .eml)
  args=(--keys "$T/keys.ring" --db "$DB" --tracking-url https://t.example.net --account 7
        --recipient '<Patient@Example.ORG>' --sent-at 1764756000)
  [ -f "$G/$name.conf" ] && args+=(--config "$G/$name.conf")
  "$BIN" rewrite "${args[@]}" < "$in" > "$T/$name.out" 2> "$T/$name.err" \
    || { cat "$T/$name.err" >&2; echo "rewrite_cli: $name: trueopen rewrite failed" >&2; exit 1; }
  if [[ $name == *unchanged* ]]; then
    cmp -s "$in" "$T/$name.out" || { echo "rewrite_cli: $name: not passed through unchanged" >&2; exit 1; }
    continue
  fi
  changed=$((changed + 1))
  python3 - "$BIN" "$T/keys.ring" "$G/$name.out.eml" "$T/$name.out" "$name" <<'EOF'
import email, json, re, subprocess, sys
from email import policy
bin_, ring, want_path, got_path, name = sys.argv[1:]
tok = re.compile(rb'https://t\.example\.net/([cho])/([A-Za-z0-9_-]+)')
def parts(path):
    raw = open(path, 'rb').read()
    head = raw.split(b'\r\n\r\n', 1)[0] if b'\r\n\r\n' in raw else raw.split(b'\n\n', 1)[0]
    m = email.message_from_bytes(raw, policy=policy.compat32)
    out = []
    for p in m.walk():
        if p.is_multipart():
            out.append(b'[multipart %s]' % p.get_content_type().encode())
        else:
            out.append(p.get_payload(decode=True) or b'')
    return head, out
def fields(t):
    r = subprocess.run([bin_, 'token', 'open', '--keys', ring, t.decode()],
                       capture_output=True, check=False)
    if r.returncode != 0:
        sys.exit('%s: a token does not open' % name)
    j = json.loads(r.stdout)
    return (j['link'], j['url'], j['account'])
wh, wp = parts(want_path)
gh, gp = parts(got_path)
if wh != gh:
    sys.exit('%s: top-level headers differ' % name)
if len(wp) != len(gp):
    sys.exit('%s: MIME structure differs' % name)
n = 0
for a, b in zip(wp, gp):
    if tok.sub(b'TOKEN', a) != tok.sub(b'TOKEN', b):
        sys.exit('%s: output differs from the golden file outside tokens' % name)
    ta, tb = tok.findall(a), tok.findall(b)
    for (ka, va), (kb, vb) in zip(ta, tb):
        if ka != kb:
            sys.exit('%s: token kinds differ from the golden file' % name)
        if va == vb:
            continue  # already in the input (a link on the tracking host)
        if fields(va) != fields(vb):
            sys.exit('%s: a token names something else than the golden one' % name)
        n += 1
if n == 0:
    sys.exit('%s: no tokens' % name)
EOF
done
[ "$changed" -ge 10 ] || { echo "rewrite_cli: only $changed rewritten cases" >&2; exit 1; }
rows=$("$BIN" messages --db "$DB" --format jsonl | wc -l)
[ "$rows" = "$changed" ] || { echo "rewrite_cli: $rows sent rows for $changed rewritten messages" >&2; exit 1; }
"$BIN" messages --db "$DB" --campaign spring-checkup --format table | grep -q '<simple@clinic.example>' \
  || { echo "rewrite_cli: messages --campaign does not list the simple case" >&2; exit 1; }
"$BIN" messages --db "$DB" --format jsonl | grep -q 'patient@' && { echo "rewrite_cli: an address was stored" >&2; exit 1; }
# usage errors: exit 2, nothing written
set +e
"$BIN" rewrite --keys "$T/keys.ring" --db "$DB" --tracking-url https://t.example.net < "$G/simple_html.eml" > "$T/u.out" 2>/dev/null
rc=$?
set -e
[ "$rc" = 2 ] && [ ! -s "$T/u.out" ] || { echo "rewrite_cli: missing --account: exit $rc" >&2; exit 1; }
set +e
"$BIN" messages --db "$DB" --format xml > /dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { echo "rewrite_cli: messages --format xml: exit $rc" >&2; exit 1; }
echo "rewrite_cli: ok ($changed rewritten cases)"
