#!/usr/bin/env bash
# A real Postfix on loopback with `trueopen milter` as its smtpd milter:
# - a marketing message sent with swaks arrives in a local Maildir with the pixel, the
#   honeypot and wrapped links, every token opens and names its link, and the `sent` row
#   is in the store (`trueopen messages`);
# - two messages on one SMTP connection are both rewritten (state reset per message);
# - a malformed message arrives unchanged;
# - the milter's /metrics (metrics_listen) counts what Postfix handed it;
# - with the milter stopped, milter_default_action = tempfail answers 451.
# Postfix runs from a private config dir (no systemd, no syslog, no DNS): virtual
# Maildir delivery to uid/gid 65534 for one virtual domain, so nothing leaves the host.
set -euo pipefail
BIN=${TO_BIN:?TO_BIN unset}
SRC=${TO_SRC:?TO_SRC unset}
command -v postfix >/dev/null && command -v swaks >/dev/null || {
  echo "postfix_milter: postfix and swaks are needed (scripts/deps.sh)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "postfix_milter: must run as root (Postfix master)" >&2; exit 1; }

DIR=$(mktemp -d /tmp/trueopen-postfix.XXXXXX)
chmod 755 "$DIR"
MILTER_PID=
cleanup() {
  postfix -c "$CONF" stop >/dev/null 2>&1 || true
  if [ -n "$MILTER_PID" ]; then kill "$MILTER_PID" 2>/dev/null || true; wait "$MILTER_PID" 2>/dev/null || true; fi
  # postfix stop returns before the master is gone; wait for its pid file to go
  for _ in $(seq 50); do [ -e "$DIR/queue/pid/master.pid" ] || break; sleep 0.1; done
  rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "postfix_milter: FAIL: $*" >&2; [ -f "$DIR/maillog" ] && tail -20 "$DIR/maillog" >&2; [ -f "$DIR/milter.log" ] && tail -20 "$DIR/milter.log" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PORT=$(free_port)
[ "$PORT" != 25 ] || PORT=$(free_port)
MPORT=$(free_port)

TRACK=https://t.example.net
KEYS=$DIR/keys.ring
DB=$DIR/trueopen.db
SOCK=$DIR/run/milter.sock
"$BIN" keys new --keys "$KEYS" >/dev/null

CONF=$DIR/etc
mkdir -p "$CONF" "$DIR/mail" "$DIR/data" "$DIR/queue" "$DIR/run"
chown 65534:65534 "$DIR/mail"
chown postfix "$DIR/data"
cat > "$CONF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $DIR/queue
data_directory = $DIR/data
mail_owner = postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.postfix-test.invalid
mydomain = postfix-test.invalid
myorigin = \$mydomain
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = clinic.test
virtual_mailbox_base = $DIR/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
smtpd_milters = unix:$SOCK
non_smtpd_milters =
milter_default_action = tempfail
milter_protocol = 6
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtp_dns_support_level = disabled
smtputf8_enable = no
biff = no
maillog_file = $DIR/maillog
maillog_file_prefixes = $DIR
EOF
cat > "$CONF/master.cf" <<EOF
127.0.0.1:$PORT inet n - n - - smtpd
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
virtual   unix - n n - - virtual
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF

"$BIN" milter --socket "unix:$SOCK" --socket-mode 0666 --keys "$KEYS" --db "$DB" \
  --tracking-url "$TRACK" --account 5 --metrics-listen "127.0.0.1:$MPORT" > "$DIR/milter.log" 2>&1 &
MILTER_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || fail "the milter did not open its socket"

postfix -c "$CONF" start >/dev/null 2>&1 || true
up=
for _ in $(seq 100); do
  if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$PORT)))"; then up=1; break; fi
  sleep 0.1
done
[ -n "$up" ] || { script -qc "postfix -c $CONF start" /dev/null >&2 || true; fail "postfix did not start"; }

# --- the messages -----------------------------------------------------------------------
crlf() { sed 's/$/\r/' "$1" > "$2"; }
cat > "$DIR/good.txt" <<'EOF'
From: Clinic <news@sender.test>
To: Patient <patient@clinic.test>
Subject: Your spring checkup
Message-ID: <spring-1@sender.test>
X-Campaign-ID: spring-checkup
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Book at https://clinic.example/book
--b1
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><body><p>Book your <a href=3D"https://clinic.example/book?a=3D1&amp;b=3D2">checkup</a>.</p>
<p><a href=3D"mailto:help@clinic.example">Write to us</a></p>
</body></html>
--b1--
EOF
crlf "$DIR/good.txt" "$DIR/good.eml"
cat > "$DIR/bad.txt" <<'EOF'
From: Clinic <news@sender.test>
To: Patient <patient@clinic.test>
Subject: Broken
Message-ID: <broken-1@sender.test>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/html; charset=utf-8

<html><body><a href="https://clinic.example/x">never closed</a></body></html>
EOF
crlf "$DIR/bad.txt" "$DIR/bad.eml"

send() { # FILE [more swaks args]
  local f=$1; shift
  swaks --server 127.0.0.1 --port "$PORT" --from news@sender.test --to patient@clinic.test \
    --data "@$f" --suppress-data "$@" > "$DIR/swaks.log" 2>&1
}

MAILDIR=$DIR/mail/box/new
wait_mail() { # N: wait until N messages are delivered
  for _ in $(seq 300); do
    [ "$(ls "$MAILDIR" 2>/dev/null | wc -l)" -ge "$1" ] && return 0
    sleep 0.1
  done
  fail "message $1 was not delivered"
}

send "$DIR/good.eml" || { cat "$DIR/swaks.log" >&2; fail "swaks could not send the message"; }
wait_mail 1
got=$(ls -t "$MAILDIR" | head -1)
M=$MAILDIR/$got
grep -q '^X-Trueopen: tracked' "$M" || fail "no X-Trueopen header"
grep -q "^Content-Transfer-Encoding: quoted-printable" "$M" || fail "Content-Transfer-Encoding changed"
# QP-decode the HTML part so soft line breaks do not split tokens
python3 - "$M" > "$DIR/decoded.html" <<'EOF'
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
for p in m.walk():
    if p.get_content_type() == 'text/html':
        sys.stdout.write(p.get_content())
EOF
grep -q "<img src=\"$TRACK/o/" "$DIR/decoded.html" || fail "no pixel in the delivered message"
grep -q "<a href=\"$TRACK/h/" "$DIR/decoded.html" || fail "no honeypot link"
grep -q 'mailto:help@clinic.example' "$DIR/decoded.html" || fail "the mailto: link was changed"
grep -q 'https://clinic.example/book' "$DIR/decoded.html" && fail "an original URL is still readable in the HTML part"
click=$(grep -o "$TRACK/c/[A-Za-z0-9_-]*" "$DIR/decoded.html" | head -1 | sed "s|$TRACK/c/||")
[ -n "$click" ] || fail "no wrapped link"
"$BIN" token open --keys "$KEYS" "$click" > "$DIR/click.json" || fail "the click token does not open"
grep -q '"url":"https://clinic.example/book?a=1&b=2"' "$DIR/click.json" || fail "the click token names another URL: $(cat "$DIR/click.json")"
grep -q '"link":1' "$DIR/click.json" || fail "the click token is not link 1"
grep -q '"account":5' "$DIR/click.json" || fail "the click token has the wrong account"
pixel=$(grep -o "$TRACK/o/[A-Za-z0-9_-]*" "$DIR/decoded.html" | head -1 | sed "s|$TRACK/o/||")
"$BIN" token open --keys "$KEYS" "$pixel" | grep -q '"link":0' || fail "the pixel token is not link 0"
msgid=$(grep -o '"message":[0-9]*' "$DIR/click.json" | cut -d: -f2)
"$BIN" messages --db "$DB" --format jsonl > "$DIR/messages.jsonl"
grep -q '"message_id":"<spring-1@sender.test>"' "$DIR/messages.jsonl" || fail "no sent row in the store: $(cat "$DIR/messages.jsonl")"
grep -q "\"id\":$msgid,.*\"campaign\":\"spring-checkup\".*\"recipient_domain\":\"clinic.test\".*\"link_count\":1" "$DIR/messages.jsonl" \
  || fail "the sent row does not match the tokens: $(cat "$DIR/messages.jsonl")"
grep -q 'patient@' "$DIR/messages.jsonl" && fail "the recipient address was stored"
grep -q 'patient@' "$DIR/milter.log" && fail "the milter log names the recipient"

# --- two messages on one connection (per-message state reset) --------------------------
python3 - "$PORT" "$DIR/good.eml" <<'EOF' || fail "two messages on one SMTP connection failed"
import smtplib, sys
raw = open(sys.argv[2], 'rb').read()
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
for i in range(2):
    msg = raw.replace(b'<spring-1@sender.test>', b'<spring-conn-%d@sender.test>' % i)
    s.sendmail('news@sender.test', ['patient@clinic.test'], msg)
s.quit()
EOF
wait_mail 3
for i in 0 1; do
  f=$(grep -l "spring-conn-$i@" "$MAILDIR"/*) || fail "message $i of the connection missing"
  grep -q '^X-Trueopen: tracked' "$f" || fail "message $i of one connection was not rewritten"
done
[ "$("$BIN" messages --db "$DB" --format jsonl | wc -l)" = 3 ] || fail "expected 3 sent rows"

# --- a malformed message arrives unchanged ----------------------------------------------
send "$DIR/bad.eml" || { cat "$DIR/swaks.log" >&2; fail "swaks could not send the malformed message"; }
wait_mail 4
B=$(grep -l 'broken-1@sender.test' "$MAILDIR"/*) || fail "malformed message missing"
grep -q '^X-Trueopen' "$B" && fail "the malformed message was marked"
# its body (after the first blank line) is byte for byte what was sent (swaks ends the
# DATA with one more line break of its own)
python3 - "$B" "$DIR/bad.txt" <<'EOF' || fail "the malformed message was changed"
import sys
got = open(sys.argv[1], 'rb').read().split(b'\n\n', 1)[1].rstrip(b'\n')
sent = open(sys.argv[2], 'rb').read().split(b'\n\n', 1)[1].rstrip(b'\n')
if got != sent:
    sys.stderr.write('sent %r\ngot  %r\n' % (sent[-80:], got[-80:]))
sys.exit(0 if got == sent else 1)
EOF
grep -q 'delivered unchanged: parse' "$DIR/milter.log" || fail "no log line for the malformed message"
[ "$("$BIN" messages --db "$DB" --format jsonl | wc -l)" = 3 ] || fail "the malformed message was recorded"

# --- the counters: three rewritten (one link each), one malformed --------------------
curl -s "http://127.0.0.1:$MPORT/metrics" > "$DIR/metrics.txt" || fail "no /metrics on $MPORT"
for want in 'trueopen_rewrite_messages_total{status="rewritten"} 3' \
            'trueopen_rewrite_messages_total{status="parse"} 1' \
            'trueopen_rewrite_messages_total{status="untracked"} 0' \
            'trueopen_rewrite_links_total 3'; do
  grep -qxF "$want" "$DIR/metrics.txt" || fail "/metrics lacks '$want': $(grep '^trueopen_rewrite' "$DIR/metrics.txt" | tr '\n' ' ')"
done

# --- milter down: tempfail ---------------------------------------------------------------
kill "$MILTER_PID"; wait "$MILTER_PID" 2>/dev/null || true; MILTER_PID=
if send "$DIR/good.eml"; then fail "accepted a message with the milter down"; fi
grep -q '451' "$DIR/swaks.log" || fail "expected a 451 with the milter down: $(tail -3 "$DIR/swaks.log")"
echo "postfix_milter: ok (port $PORT)"
