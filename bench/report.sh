#!/usr/bin/env bash
# Campaign report speed: a campaign of 1,000,000 messages and 10,000,000 events in the
# SQLite store; `trueopen report` against the sqlite3 command running the equivalent
# hand-written aggregate queries (bench/report_anchor.sql) on the same file. Both are
# run warm, alternately, RUNS times; the best time of each and the ratio are printed
# (target: ratio <= 1, the report no slower than the hand-written query). The figures
# of both are compared so the race is between equal answers.
#   MESSAGES=... EVENTS=... RUNS=... BENCH_KEEP=1 bash bench/report.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${TO_BIN:-build/trueopen}
MESSAGES=${MESSAGES:-1000000}
EVENTS=${EVENTS:-10000000}
RUNS=${RUNS:-3}
T=$(mktemp -d /tmp/trueopen-bench-report.XXXXXX)
cleanup() { if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$T"; else echo "kept $T"; fi; }
trap cleanup EXIT
[ -x "$BIN" ] || { echo "bench/report.sh: build first (make build)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "bench/report.sh: needs the sqlite3 command" >&2; exit 1; }

cc -O2 -o "$T/report_gen" bench/report_gen.c $(pkg-config --cflags --libs sqlite3)
DB="$T/bench.db"
"$BIN" campaigns --db "$DB" >/dev/null # creates the schema through the store's migrations
t0=$(date +%s.%N)
"$T/report_gen" "$DB" "$MESSAGES" "$EVENTS"
t1=$(date +%s.%N)
printf 'generation: %.1f s, database %s\n' "$(echo "$t1 - $t0" | bc -l)" "$(du -h "$DB" | cut -f1)"

now() { date +%s.%N; }
best_report=; best_anchor=
for i in $(seq 0 "$RUNS"); do
  a=$(now); "$BIN" report --db "$DB" --campaign bench --format json > "$T/report.json"; b=$(now)
  sqlite3 "$DB" < bench/report_anchor.sql > "$T/anchor.txt"; c=$(now)
  [ "$i" -eq 0 ] && continue # the first round warms the page cache
  r=$(echo "$b - $a" | bc -l); q=$(echo "$c - $b" | bc -l)
  if [ -z "$best_report" ] || [ "$(echo "$r < $best_report" | bc -l)" = 1 ]; then best_report=$r; fi
  if [ -z "$best_anchor" ] || [ "$(echo "$q < $best_anchor" | bc -l)" = 1 ]; then best_anchor=$q; fi
done

# Same answers: sent, unique and total opens and clicks of both views, agent events.
python3 - "$T/report.json" "$T/anchor.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rows = [l.split('|') for l in open(sys.argv[2]).read().split('\n') if l]
prov = [x for x in rows if len(x) == 10]
agents = [x for x in rows if len(x) == 7]
s = lambda i: sum(int(x[i]) for x in prov)
o = r["other_view"]
want = {"sent": s(1), "unique_opens": s(2), "unique_clicks": s(4), "total_opens": s(6),
        "total_clicks": s(8), "all.unique_opens": s(3), "all.unique_clicks": s(5),
        "all.total_opens": s(7), "all.total_clicks": s(9),
        "events": sum(int(x[1]) for x in agents)}
got = {"sent": r["sent"], "unique_opens": r["unique_opens"], "unique_clicks": r["unique_clicks"],
       "total_opens": r["total_opens"], "total_clicks": r["total_clicks"],
       "all.unique_opens": o["unique_opens"], "all.unique_clicks": o["unique_clicks"],
       "all.total_opens": o["total_opens"], "all.total_clicks": o["total_clicks"],
       "events": r["events"]}
bad = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
if bad:
    sys.exit("bench/report.sh: the report and the hand-written query disagree: %s" % bad)
print("figures agree: sent %d, people unique opens %d, all unique opens %d, events %d"
      % (r["sent"], r["unique_opens"], o["unique_opens"], r["events"]))
PY
printf 'trueopen report:        %.3f s (best of %d)\n' "$best_report" "$RUNS"
printf 'sqlite3 hand-written:   %.3f s (best of %d)\n' "$best_anchor" "$RUNS"
printf 'ratio report/sqlite3:   %.2f (target <= 1)\n' "$(echo "$best_report / $best_anchor" | bc -l)"
