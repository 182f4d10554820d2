#!/usr/bin/env bash
# bench/http.sh: trueopen serve against nginx on loopback, driven by wrk in one run.
#
# nginx (2 workers, `empty_gif` for /o/ and `return 302` for /c/, access_log to a file
# with buffer=64k) is the anchor; trueopen serve runs with a fresh SQLite store and
# answers each request only after its event is committed. wrk -t2 at 64 and 256
# connections, BENCH_SECONDS (default 10) each, rotating over distinct sealed tokens.
# Prints req/s and p99 for each and the ratio trueopen/nginx, then checks that every
# answered tracking request left exactly one committed row and none was refused.
# Installs nothing (scripts/deps.sh has nginx and wrk); needs `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TO_BIN:-$PWD/build/trueopen}
LOADGEN=${TO_LOADGEN:-$(dirname "$BIN")/loadgen}
SECS=${BENCH_SECONDS:-10}
NTOK=${BENCH_TOKENS:-20000}
# extra flags for trueopen serve (e.g. BENCH_SERVE_FLAGS="--http-threads 1")
read -r -a EXTRA <<< "${BENCH_SERVE_FLAGS:-}"
for t in nginx wrk sqlite3 curl python3; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
[ -x "$BIN" ] && [ -x "$LOADGEN" ] || { echo "bench: run make build first" >&2; exit 1; }

T=$(mktemp -d)
NGX=; SRV=; SRV2=
cleanup() {
  for p in $SRV $SRV2; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  [ -n "$NGX" ] && kill "$NGX" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$BIN" keys new --keys "$T/keys" >/dev/null
"$LOADGEN" seal "$T/keys" "$NTOK" 1 > "$T/open.tok"
"$LOADGEN" seal "$T/keys" "$NTOK" 1000001 click > "$T/click.tok"
cat > "$T/rot.lua" <<'LUA'
-- rotates over pre-built requests, one per sealed token (args: file prefix suffix)
local reqs, i = {}, 0
function init(args)
  for line in io.lines(args[1]) do
    reqs[#reqs + 1] = wrk.format("GET", args[2] .. line .. (args[3] or ""))
  end
  i = math.random(#reqs)
end
function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
LUA

# --- nginx, private config ----------------------------------------------------------
NPORT=$(free_port)
mkdir -p "$T/nginx/logs"
cat > "$T/nginx/nginx.conf" <<NGX
worker_processes 2;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log $T/nginx/access.log combined buffer=64k;
  server {
    listen 127.0.0.1:$NPORT;
    location /o/ { empty_gif; add_header Cache-Control "no-store, no-cache, must-revalidate, private"; }
    location /c/ { return 302 https://example.com/landing; }
  }
}
NGX
nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" 2>"$T/nginx/start.log" &
NGX=$!

# --- trueopen serve: a fresh SQLite store, and the in-memory store (isolates the HTTP
# layer from the storage cost; its events are committed to memory before the response)
start_serve() { # name db -> sets PORT_<name>, PID_<name>
  "$BIN" serve --listen 127.0.0.1:0 --db "$2" --keys "$T/keys" "${EXTRA[@]}" 2>"$T/$1.log" &
  eval "PID_$1=$!"
  local p=
  for _ in $(seq 1 100); do
    p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$1.log")
    [ -n "$p" ] && break
    sleep 0.1
  done
  [ -n "$p" ] || { cat "$T/$1.log" >&2; exit 1; }
  eval "PORT_$1=$p"
}
start_serve sq "$T/ev.db"
SRV=$PID_sq
start_serve mem memory:
SRV2=$PID_mem
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$NPORT/o/x" && break; sleep 0.1; done

# run PORT ROUTE CONNS -> "req/s p99_ms requests"
run() {
  local port=$1 route=$2 conns=$3 tok suffix=""
  if [ "$route" = open ]; then tok="$T/open.tok"; suffix=".gif"; else tok="$T/click.tok"; fi
  local pre=/c/; [ "$route" = open ] && pre=/o/
  wrk -t2 -c"$conns" -d"${SECS}s" --latency -s "$T/rot.lua" "http://127.0.0.1:$port" \
    -- "$tok" "$pre" "$suffix" > "$T/wrk.out" 2>&1
  python3 - "$T/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", t)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
n = int(re.search(r"(\d+) requests in", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
errs = re.search(r"Socket errors: (.*)", t)
print("%.0f %.2f %d %s %s" % (rps, p99, n, bad.group(1) if bad else 0, "errors" if errs else "-"))
PY
}

echo "bench/http.sh: wrk -t2, ${SECS}s per run, $NTOK distinct tokens per route, $(nproc) cores"
echo "trueopen: SQLite store (WAL) and, for reference, the in-memory store; serve flags: ${EXTRA[*]:-(defaults)}"
printf '%-6s %5s  %11s %7s  %11s %7s %6s  %11s %7s %6s\n' route conns "nginx req/s" "p99 ms" \
  "trueopen" "p99 ms" ratio "(memory)" "p99 ms" ratio
sent=0; sent_mem=0; worst=
for route in open click; do
  for conns in 64 256; do
    read -r nr np nn nb ne < <(run "$NPORT" "$route" "$conns")
    read -r tr tp tn tb te < <(run "$PORT_sq" "$route" "$conns")
    read -r mr mp mn mb me < <(run "$PORT_mem" "$route" "$conns")
    sent=$((sent + tn)); sent_mem=$((sent_mem + mn))
    ratio=$(python3 -c "print('%.2f' % ($tr / $nr))")
    mratio=$(python3 -c "print('%.2f' % ($mr / $nr))")
    printf '%-6s %5s  %11s %7s  %11s %7s %6s  %11s %7s %6s\n' "$route" "$conns" "$nr" "$np" \
      "$tr" "$tp" "$ratio" "$mr" "$mp" "$mratio"
    for x in "$tb:$te" "$mb:$me"; do
      [ "$x" = "0:-" ] || echo "  trueopen: non-2xx/3xx:socket errors $x" >&2
    done
    worst=$(python3 -c "w='$worst'; print(min(float(w), $ratio) if w else $ratio)")
  done
done

# --- every answered event is committed --------------------------------------------------
counter() { sed -n "s/^trueopen_http_events_$2_total //p" <<< "$1"; }
ok=1
m=$(curl -s "http://127.0.0.1:$PORT_mem/metrics")
if [ "$(counter "$m" refused)" != 0 ] || [ "$(counter "$m" failed)" != 0 ] ||
   [ "$(counter "$m" committed)" -lt "$sent_mem" ]; then
  echo "bench: memory store: events refused, failed or missing" >&2; ok=0
fi
metrics=$(curl -s "http://127.0.0.1:$PORT_sq/metrics")
committed=$(counter "$metrics" committed)
refused=$(counter "$metrics" refused)
failed=$(counter "$metrics" failed)
kill -TERM "$SRV"; wait "$SRV"; SRV=
rows=$(sqlite3 "$T/ev.db" 'select count(*) from events')
echo "events (SQLite): $rows rows; $committed committed before their response; $refused refused;" \
  "$failed failed; wrk counted $sent responses"
[ "$rows" = "$committed" ] || { echo "bench: rows ($rows) != committed ($committed)" >&2; ok=0; }
[ "$refused" = 0 ] && [ "$failed" = 0 ] || { echo "bench: events refused or failed" >&2; ok=0; }
[ "$rows" -ge "$sent" ] || { echo "bench: fewer rows than answered requests" >&2; ok=0; }
echo "worst ratio trueopen (SQLite)/nginx: $worst (target >= 1.0)"
[ "$ok" = 1 ]
