#!/usr/bin/env bash
# serve_cg.sh: instructions per one-click and per GET /healthz in `herald
# serve`, from callgrind: a figure that does not move with the load of the
# shared machine, which bench/serve.sh's ratio does (by a quarter between
# runs). Alone, not run by make bench (about 90 s): bash bench/serve_cg.sh
# [BUILD]. BENCH_CG_CLICKS (default 10,000) contacts are imported and a
# paused marketing email campaign materialized, as serve.sh does; bench/tokens
# signs each message's link. Then three runs of `herald serve` under
# valgrind --tool=callgrind (all threads counted), each on a fresh copy of
# that database: no request (start-up and stop), BENCH_CG_CLICKS GET
# /healthz, and one RFC 8058 one-click POST to each link; the requests go
# over 64 keep-alive connections (Python's asyncio, a request at a time on
# each), so the group commit still batches. Instructions per request are
# the run's total less the run with no request, divided by the requests.
# Each profile stays in bench/out-serve-cg/ (none.cg, healthz.cg, click.cg)
# for callgrind_annotate. Under valgrind the threads take turns, so a batch
# holds fewer clicks than on the real machine (about 8, not 15 to 20).
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERALD=$ROOT/$B/herald
N=${BENCH_CG_CLICKS:-10000}
OUT=$ROOT/bench/out-serve-cg
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
. "$ROOT/bench/lib.sh"

{ conf_head; printf '[provider box]\ntype = outbox\npath = outbox\n[channel email]\nproviders = box\n'; } > cg.conf
awk -v n="$N" 'BEGIN { print "id,email,first_name,plan"
  for (i = 0; i < n; i++) printf "k%d,user%d@example.com,Ann,gold\n", i, i }' > cg.csv
H() { "$HERALD" -c cg.conf --db base.db "$@"; }
H init > /dev/null
H contacts import cg.csv > /dev/null
H segment define all 'plan = "gold"' > /dev/null
H campaign create cg --segment all --template recall --channels email --now > /dev/null
H campaign pause cg > /dev/null
H run --once 2> /dev/null
sqlite3 -separator ' ' base.db "SELECT id, contact_id FROM messages" \
  | "$ROOT/$B/bench/tokens" cg.conf "$(date +%s)" > tokens.txt
[ "$(wc -l < tokens.txt)" = "$N" ] || { echo "bench: $(wc -l < tokens.txt) links, not $N" >&2; exit 1; }

# client MODE PORT: N requests of MODE (healthz, click) over 64 connections;
# prints the count of each status
client() {
  python3 - "$1" "$2" "$N" tokens.txt <<'PY'
import asyncio, collections, sys
mode, port, n, file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if mode == "click":
    reqs = [b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 26\r\n\r\nList-Unsubscribe=One-Click" % l.strip().encode()
            for l in open(file)][:n]
else:
    reqs = [b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"] * n
codes = collections.Counter()
async def conn(mine):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    for q in mine:
        w.write(q)
        head = await r.readuntil(b"\r\n\r\n")
        codes[head.split(b" ")[1].decode()] += 1
        size = [int(h.split(b":")[1]) for h in head.split(b"\r\n")
                if h.lower().startswith(b"content-length:")]
        await r.readexactly(size[0] if size else 0)
    w.close()
async def main():
    await asyncio.gather(*(conn(reqs[i::64]) for i in range(64)))
asyncio.run(main())
print(" ".join("%s:%d" % kv for kv in sorted(codes.items())))
PY
}

# run MODE: the server's instructions with N requests of MODE (none: none)
run() {
  local srv port r codes=""
  cp base.db "$1.db"
  valgrind --tool=callgrind --callgrind-out-file="$1.cg" "$HERALD" -c cg.conf --db "$1.db" \
    serve --listen 127.0.0.1:0 > serve.out 2> "$1.err" &
  srv=$!
  for r in $(seq 600); do grep -q listening serve.out && break; sleep 0.1; done
  port=$(sed -n 's/^listening on http:\/\/127.0.0.1:\([0-9]*\)$/\1/p' serve.out)
  [ -n "$port" ] || { echo "bench: herald serve did not start: $(cat "$1.err")" >&2; exit 1; }
  [ "$1" = none ] || codes=$(client "$1" "$port")
  kill "$srv"
  wait "$srv" || { echo "bench: herald serve did not stop cleanly" >&2; exit 1; }
  [ "$1" = none ] || [ "$codes" = "200:$N" ] \
    || { echo "bench: $1: answers $codes, not 200:$N" >&2; exit 1; }
  awk '/^(summary|totals):/ { print $2; exit }' "$1.cg"
}

echo "== herald serve under callgrind: $N requests over 64 connections, start-up subtracted"
none=$(run none)
health=$(run healthz)
click=$(run click)
rows=$(sqlite3 click.db "SELECT (SELECT count(*) FROM consent), (SELECT count(*) FROM consent_log)")
[ "$rows" = "$N|$N" ] || { echo "bench: consent and consent_log rows $rows, not $N each" >&2; exit 1; }
awk -v a="$none" -v h="$health" -v c="$click" -v n="$N" 'BEGIN {
  printf "   start-up and stop:      %d instructions\n", a
  printf "   GET /healthz:           %d instructions a request\n", (h - a) / n
  printf "   POST /u/TOKEN:          %d instructions a one-click (consent and consent_log rows: %d each)\n", (c - a) / n, n
  printf "   one-click / healthz:    %.2fx the instructions\n", (c - a) / (h - a) }'
rm -f cg.csv ./*.db-wal ./*.db-shm
