#!/usr/bin/env bash
# trueopen serve on loopback, driven by curl and raw sockets: opens, clicks, honeypot
# hits and HEAD are recorded and answered; forged, altered and truncated tokens record
# nothing; oversized URL/head and too many headers are refused; a slow client is cut
# off while others are served; keep-alive; metrics; SIGHUP; privilege drop; SIGTERM
# commits everything and exits 0. Rows are checked with `trueopen events`.
set -euo pipefail
BIN=${TO_BIN:?}
T=${KEEP:-$(mktemp -d)}; mkdir -p "$T"
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
. "$(dirname "$0")/lib/check.sh"

# Starts the server on a free port (port 0; the log names the port). Extra flags follow.
start() {
  : > "$T/serve.log"
  "$BIN" serve --listen 127.0.0.1:0 --db "$T/ev.db" --keys "$T/keys" \
    --http-header-timeout 1s "$@" 2>"$T/serve.log" &
  PID=$!
  PORT=
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/serve.log")
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$PORT" ] || { cat "$T/serve.log" >&2; echo "server did not start" >&2; exit 1; }
  U="http://127.0.0.1:$PORT"
}
stop() {
  kill -TERM "$PID"
  local rc=0
  wait "$PID" || rc=$?
  PID=
  return $rc
}
# status code of a request: code URL [curl args]
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

"$BIN" keys new --keys "$T/keys" >/dev/null
seal() { "$BIN" token seal --keys "$T/keys" --account 7 --campaign 8 --recipient 9 "$@"; }
PIX=$(seal --message 1)
CLK=$(seal --message 2 --link 'https://clinic.example/portal?x=1')
HNY=$(seal --message 3 --link-index 65535)
"$BIN" keys new --keys "$T/other" >/dev/null
FOREIGN=$("$BIN" token seal --keys "$T/other" --account 7 --campaign 8 --message 4 --recipient 9)
ALTERED="${PIX:0:20}$( [ "${PIX:20:1}" = A ] && echo B || echo A )${PIX:21}"
TRUNC=${CLK:0:$((${#CLK} - 4))}

start
# --- valid requests ----------------------------------------------------------------
curl -s -D "$T/h1" -o "$T/b1" -A 'Mozilla/5.0 (Windows NT 10.0)' -H 'Accept: image/webp,*/*' \
  -H 'Accept-Language: de' -H 'Sec-Purpose: prefetch' "$U/o/$PIX.gif"
check 'head -1 "$T/h1" | grep -q "200"' "open answered 200"
check '[ "$(stat -c %s "$T/b1")" -eq 43 ] && head -c 6 "$T/b1" | grep -q GIF89a' "43-byte GIF"
check 'grep -qi "^Cache-Control: no-store, no-cache, must-revalidate, private" "$T/h1"' "no-cache header"
check 'grep -qi "^Pragma: no-cache" "$T/h1" && grep -qi "^Expires: 0" "$T/h1"' "Pragma/Expires"
curl -s -D "$T/h2" -o /dev/null "$U/c/$CLK"
check 'head -1 "$T/h2" | grep -q 302' "click answered 302"
check 'grep -q "^Location: https://clinic.example/portal?x=1" "$T/h2"' "Location is the sealed URL"
check '[ "$(code "$U/h/$HNY")" = 204 ]' "honeypot 204"
curl -s -I -o "$T/h3" -D "$T/h3" "$U/o/$PIX" >/dev/null
check 'head -1 "$T/h3" | grep -q 200 && grep -qi "^Content-Length: 43" "$T/h3"' "HEAD open like GET"
check '[ "$(code -I "$U/c/$CLK")" = 302 ]' "HEAD click 302"
# --- tokens that do not open ----------------------------------------------------------
for t in "$ALTERED" "$FOREIGN" "AAAA" "$TRUNC" "not*a*token"; do
  check '[ "$(code "$U/o/$t")" = 200 ]' "bad token on /o/ still gets the GIF"
  check '[ "$(code "$U/c/$t")" = 404 ]' "bad token on /c/ is 404"
  check '[ "$(code "$U/h/$t")" = 404 ]' "bad token on /h/ is 404"
done
curl -s -D "$T/h4" -o "$T/b4" "$U/c/$ALTERED"
check '! grep -qi "^Location" "$T/h4" && grep -q "not valid" "$T/b4"' "404 page, no redirect"
check '[ "$(code "$U/c/$PIX")" = 404 ]' "pixel token has no destination"
check '[ "$(code "$U/healthz")" = 200 ]' "healthz"
check '[ "$(code "$U/nothing")" = 404 ]' "unknown path 404"
check '[ "$(code -X POST "$U/o/$PIX")" = 405 ]' "POST is 405"
# --- limits ---------------------------------------------------------------------------
LONG=$(head -c 9000 /dev/zero | tr '\0' a)
check '[ "$(code "$U/o/$LONG")" = 414 ]' "oversized URL 414"
BIG=$(head -c 17000 /dev/zero | tr '\0' v)
check '[ "$(code -H "X-Big: $BIG" "$U/o/$PIX")" = 431 ]' "oversized header 431"
HDRS=(); for i in $(seq 1 70); do HDRS+=(-H "X-H$i: $i"); done
check '[ "$(code "${HDRS[@]}" "$U/healthz")" = 431 ]' "too many headers 431"
# raw-socket cases: bad request line, slow client, keep-alive and pipelining
python3 - "$PORT" "$PIX" "$CLK" > "$T/raw.out" <<'PY'
import re, socket, sys, time
port, pix, clk = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def conn():
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(20); return s
def read_all(s):
    out = b""
    while True:
        try: d = s.recv(65536)
        except (ConnectionResetError, socket.timeout): break
        if not d: break
        out += d
    return out
s = conn(); s.sendall(b"G@T / HTTP/1.1\r\nHost: t\r\n\r\n"); print("badmethod", read_all(s).split(b"\r\n")[0].decode())
# a slow client that never finishes its head...
slow = conn(); slow.sendall(b"GET /o/" + pix.encode() + b" HTTP/1.1\r\nHost: t\r\nUser-")
t0 = time.time()
# ...while another is served, twice, on one keep-alive connection
f = conn()
f.sendall(("GET /o/%s HTTP/1.1\r\nHost: t\r\n\r\n" % pix).encode())
got = b""
while got.count(b"GIF89a") < 1: got += f.recv(65536)
f.sendall(("GET /c/%s HTTP/1.1\r\nHost: t\r\n\r\n" % clk).encode())
while b"302 Found" not in got: got += f.recv(65536)
print("keepalive", got.count(b"HTTP/1.1 200"), got.count(b"HTTP/1.1 302"))
# pipelined: three requests in one write, answered in order, then close
f.sendall(("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /o/%s HTTP/1.1\r\nHost: t\r\n\r\n"
           "HEAD /c/%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % (pix, clk)).encode())
r = read_all(f)
codes = [c.decode() for c in re.findall(rb"HTTP/1\.1 (\d{3}) ", r)]
print("pipelined", ",".join(codes))
r = read_all(slow)
print("slow", r.split(b"\r\n")[0].decode(), "after", "ok" if time.time() - t0 >= 0.9 else "early")
PY
check 'grep -q "^badmethod HTTP/1.1 400" "$T/raw.out"' "bad method 400"
check 'grep -q "^keepalive 1 1" "$T/raw.out"' "keep-alive serves several requests"
check 'grep -q "^pipelined 200,200,302" "$T/raw.out"' "pipelined answers in order"
check 'grep -q "^slow HTTP/1.1 408 Request Timeout after ok" "$T/raw.out"' "slow client cut off with 408"
# --- metrics and reload ---------------------------------------------------------------
curl -s "$U/metrics" > "$T/metrics"
check 'grep -q "^trueopen_http_requests_total{route=\"open\",status=\"200\"} " "$T/metrics"' "metrics by route and status"
check 'grep -q "^trueopen_http_requests_total{route=\"other\",status=\"414\"} 1" "$T/metrics"' "414 counted"
check 'grep -q "^trueopen_http_events_committed_total 9$" "$T/metrics"' "committed events counted: $(grep events_committed "$T/metrics" | head -1)"
check 'grep -q "^trueopen_tokens_rejected_total{route=\"click\"} 7$" "$T/metrics"' "rejected tokens counted"
check 'grep -q "^trueopen_batch_size_count " "$T/metrics" && grep -q "^trueopen_commit_seconds_bucket" "$T/metrics"' "store series appended"
kill -HUP "$PID"; sleep 0.2
check 'kill -0 "$PID" && grep -q "reload requested" "$T/serve.log"' "SIGHUP logged, still serving"
check '[ "$(code "$U/healthz")" = 200 ]' "serving after SIGHUP"
check 'stop' "SIGTERM exits 0"
check 'grep -q "every queued event committed" "$T/serve.log"' "shutdown commits"
check '! grep -q "$PIX" "$T/serve.log" && ! grep -q clinic "$T/serve.log"' "no token or URL in the log"

# --- recorded rows ----------------------------------------------------------------------
"$BIN" events --db "$T/ev.db" --format jsonl > "$T/ev.jsonl"
check '[ "$(wc -l < "$T/ev.jsonl")" -eq 9 ]' "9 events recorded ($(wc -l < "$T/ev.jsonl"))"
first=$(sed -n 1p "$T/ev.jsonl")
check 'echo "$first" | grep -q "\"route\":\"open\"" && echo "$first" | grep -q "\"method\":\"GET\""' "open row: $first"
check 'echo "$first" | grep -q "\"message\":1," && echo "$first" | grep -q "\"ip\":\"127.0.0.1\""' "open ids and ip"
check 'echo "$first" | grep -q "\"ua\":\"Mozilla/5.0 (Windows NT 10.0)\""' "UA recorded"
check 'echo "$first" | grep -q "\"sec-purpose\":\"prefetch\"" && echo "$first" | grep -q "\"accept-language\":\"de\""' "classification headers recorded"
check 'sed -n 2p "$T/ev.jsonl" | grep -q "\"url\":\"https://clinic.example/portal?x=1\""' "click row with URL"
check 'sed -n 3p "$T/ev.jsonl" | grep -q "\"route\":\"honeypot\""' "honeypot row"
check 'sed -n 4p "$T/ev.jsonl" | grep -q "\"method\":\"HEAD\""' "HEAD recorded as HEAD"
check '! grep -q "\"message\":4," "$T/ev.jsonl"' "foreign token recorded nothing"

# --- trusted proxy and privilege drop ----------------------------------------------------
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  start --trusted-proxy 127.0.0.0/8 --trusted-proxy ::1 --user nobody
  uid=$(awk '/^Uid:/{print $2, $3, $4, $5}' /proc/$PID/status)
  check '[ "$uid" = "65534 65534 65534 65534" ]' "privileges dropped ($uid)"
  gid=$(awk '/^Gid:/{print $2, $3, $4, $5}' /proc/$PID/status)
  check '[ "$gid" = "65534 65534 65534 65534" ]' "group dropped ($gid)"
  check '[ "$(awk "/^Groups:/{print \$2}" /proc/$PID/status)" = 65534 ]' "supplementary groups dropped"
  check '[ "$(code -H "X-Forwarded-For: 6.6.6.6, 203.0.113.5, 127.0.0.9" "$U/o/$PIX")" = 200 ]' "open via proxy"
  check 'stop' "SIGTERM exits 0 after the drop"
  last=$("$BIN" events --db "$T/ev.db" --format jsonl | tail -1)
  check 'echo "$last" | grep -q "\"ip\":\"203.0.113.5\""' "client IP from X-Forwarded-For: $last"
else
  echo "skip: privilege drop (not root)" >&2
fi
# --- every flag is also a setting: the same server from a config file --------------------
cat > "$T/serve.conf" <<CONF
# trueopen serve settings
listen = 127.0.0.1:0
db = $T/ev.db
keys = $T/keys
http_max_url = 1k
trusted_proxy = 10.0.0.0/8
CONF
"$BIN" serve --config "$T/serve.conf" 2>"$T/conf.log" &
PID=$!
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/conf.log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
check '[ -n "$PORT" ]' "serve --config starts"
MID=$(head -c 1100 /dev/zero | tr '\0' a)
check '[ "$(code "http://127.0.0.1:$PORT/o/$MID")" = 414 ]' "http_max_url from the config file"
check '[ "$(code "http://127.0.0.1:$PORT/o/$PIX")" = 200 ]' "config-file server serves"
check 'stop' "config-file server stops cleanly"
check '! "$BIN" serve --listen nonsense --db "$T/ev.db" --keys "$T/keys" 2>/dev/null' "bad listen refused"
check '! "$BIN" serve --listen 127.0.0.1:0 --db "$T/ev.db" --keys "$T/keys" --trusted-proxy 1.2.3.4/99 2>/dev/null' "bad CIDR refused"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
