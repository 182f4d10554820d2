#!/usr/bin/env bash
# The demo (`make demo`, after deps and build): a fresh database and key ring under
# ./demo-data/, `trueopen serve` on loopback (free ports, 127.0.0.1 trusted as a proxy,
# the API on its own listener), a campaign of a few thousand recipients rewritten with
# `trueopen rewrite` (providers from MX records served by a loopback DNS server for the
# demo's domains), traffic that behaves like the real agents and like people
# (scripts/demo_traffic.py), then the campaign report with and without automated events,
# side by side, with the agent breakdown. Builds nothing; stops what it started.
#   DEMO_RECIPIENTS=N (default 2500), DEMO_DIR=PATH (default ./demo-data)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TO_BIN:-$PWD/build/trueopen}
N=${DEMO_RECIPIENTS:-2500}
D=${DEMO_DIR:-$PWD/demo-data}
CAMPAIGN=flu-shot-reminder
[ -x "$BIN" ] || { echo "demo: $BIN is missing: run make demo (or make build)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "demo: needs python3" >&2; exit 1; }
command -v curl >/dev/null || { echo "demo: needs curl" >&2; exit 1; }

SERVE_PID=; DNS_PID=
stop_all() {
  if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
    kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
  fi
  if [ -n "$DNS_PID" ] && kill -0 "$DNS_PID" 2>/dev/null; then
    kill "$DNS_PID"; wait "$DNS_PID" 2>/dev/null || true
  fi
  SERVE_PID=; DNS_PID=
}
trap stop_all EXIT

rm -rf "$D"
mkdir -p "$D/mail"
DB="$D/trueopen.db"
"$BIN" keys new --keys "$D/keys" >/dev/null
echo "demo: data in $D"

# DNS for the demo's domains, on loopback only (nothing is asked of the outside).
python3 scripts/demo_dns.py "$D/dns.port" --max-seconds 900 &
DNS_PID=$!
for _ in $(seq 1 50); do [ -s "$D/dns.port" ] && break; sleep 0.1; done
DNS="127.0.0.1:$(cat "$D/dns.port")"

: > "$D/serve.log"
"$BIN" serve --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --trusted-proxy 127.0.0.1/32 \
  --db "$DB" --keys "$D/keys" 2>"$D/serve.log" &
SERVE_PID=$!
PORT=
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/.*serve: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$D/serve.log")
  [ -n "$PORT" ] && break
  kill -0 "$SERVE_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$PORT" ] || { cat "$D/serve.log" >&2; echo "demo: the server did not start" >&2; exit 1; }
APORT=$(sed -n 's/.*API listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$D/serve.log")
echo "demo: tracking server on 127.0.0.1:$PORT, API on 127.0.0.1:$APORT"

# The recipients: consumer mailboxes, Microsoft 365 tenants behind Safe Links,
# Proofpoint-fronted organisations, a Google Workspace company, small domains.
domains=(gmail.com gmail.com gmail.com gmail.com gmail.com gmail.com gmail.com
         icloud.com icloud.com icloud.com icloud.com me.com
         contoso-health.example contoso-health.example northwind-clinic.example
         fabrikam-care.example woodgrove-medical.example
         yahoo.com outlook.com litware-labs.example adatum-family.example)
NOW_RFC=$(date -R)
mail() { # n recipient
  cat <<EOF
From: Riverside Clinic <news@riverside-clinic.example>
To: $2
Subject: Your flu shot is due
Date: $NOW_RFC
Message-ID: <flu-$1@riverside-clinic.example>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 7bit

<!DOCTYPE html>
<html><body>
<p>It is time for this season's flu shot.</p>
<p><a href="https://riverside-clinic.example/appointments?campaign=flu">Book an appointment</a></p>
<p><a href="https://riverside-clinic.example/locations">Clinic hours and locations</a></p>
<p><a href="https://riverside-clinic.example/portal">Your patient portal</a></p>
</body></html>
EOF
}
echo "demo: rewriting $N messages (trueopen rewrite, one per recipient)..."
t0=$(date +%s)
: > "$D/manifest"
: > "$D/recipients"
for i in $(seq 1 "$N"); do
  dom=${domains[$((i % ${#domains[@]}))]}
  mail "$i" "patient$i@$dom" > "$D/mail/$i.in"
  echo "$dom $D/mail/$i.eml" >> "$D/manifest"
  echo "$i patient$i@$dom" >> "$D/recipients"
done
export BIN D DB DNS CAMPAIGN
xargs -P 4 -n 2 sh -c 'exec "$BIN" rewrite --keys "$D/keys" --db "$DB" \
  --tracking-url http://track.riverside-clinic.example --account 1 --campaign "$CAMPAIGN" \
  --recipient "$1" --dns-server "$DNS" < "$D/mail/$0.in" > "$D/mail/$0.eml" 2>>"$D/rewrite.log"' \
  < "$D/recipients"
echo "demo: rewritten in $(( $(date +%s) - t0 )) s"

echo "demo: driving the tracking server..."
python3 scripts/demo_traffic.py "http://127.0.0.1:$PORT" track.riverside-clinic.example \
  "$D/manifest" data/rules/apple-relay-ipv4.txt --max-seconds 300

# The API, as a dashboard would use it.
KEY=$("$BIN" apikey new --db "$DB" --account 1 | tail -1)
echo "demo: the API answers (GET /api/v1/campaigns/$CAMPAIGN/stats, people view):"
curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$APORT/api/v1/campaigns/$CAMPAIGN/stats" |
  python3 -c 'import json,sys
r=json.load(sys.stdin)
print("  view=%s sent=%d unique_opens=%d open_rate=%.1f%% click_rate=%.1f%% automated_excluded=%d"
      % (r["view"], r["sent"], r["unique_opens"], 100*r["open_rate"], 100*r["click_rate"],
         r["automated_excluded"]))'
stop_all

echo
"$BIN" report --db "$DB" --campaign "$CAMPAIGN" --both-views
echo
echo "demo: the database is $DB (try: $BIN report --db $DB --campaign $CAMPAIGN --format json)"
