#!/usr/bin/env bash
# serve_cg.sh: instructions per one-click (or per Twilio status callback)
# and per GET /healthz in `herald serve`, from callgrind: a figure that does
# not move with the load of the shared machine, which bench/serve.sh's and
# bench/receipts.sh's ratios do (by a quarter between runs). Alone, not run
# by make bench (about 90 s): bash bench/serve_cg.sh [BUILD].
# BENCH_CG_KIND picks what is posted: click (the default) or receipt.
# click: BENCH_CG_CLICKS (default 10,000) contacts are imported and a
# paused marketing email campaign materialized, as serve.sh does;
# bench/tokens signs each message's link. receipt: as bench/receipts.sh
# does, an SMS campaign to that many contacts goes through the Twilio mock
# and tests/twilio_sign.py signs one "delivered" status callback per
# message. Then three runs of `herald serve` under valgrind
# --tool=callgrind (all threads counted), each on a fresh copy of that
# database: no request (start-up and stop), BENCH_CG_CLICKS GET /healthz,
# and one POST of the kind per link or message; the requests go over 64
# keep-alive connections (Python's asyncio, a request at a time on each),
# so the group commit still batches. Instructions per request are the
# run's total less the run with no request, divided by the requests. Each
# profile stays in bench/out-serve-cg/ (none.cg, healthz.cg, and click.cg
# or receipt.cg) for callgrind_annotate. Under valgrind the threads take
# turns, so a batch holds fewer requests than on the real machine (about
# 8, not 15 to 20).
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERALD=$ROOT/$B/herald
N=${BENCH_CG_CLICKS:-10000}
KIND=${BENCH_CG_KIND:-click}
case $KIND in click | receipt) ;; *) echo "bench: BENCH_CG_KIND is click or receipt" >&2; exit 2 ;; esac
OUT=$ROOT/bench/out-serve-cg
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
. "$ROOT/bench/lib.sh"

# click: a paused email campaign's links, one /u/TOKEN path a line
setup_click() {
  oneclick_links cg "$N" > posts.txt
  mv cg.db base.db
}

# receipt: an SMS campaign sent through the Twilio mock, then one signed
# "delivered" callback a message: "PATH<TAB>SIGNATURE<TAB>BODY" a line
setup_receipt() {
  local sid=AC0123456789abcdef0123456789abcdef tw port
  export BENCH_TW_TOKEN=tw-Bench-Token-0001
  mkfifo tw.in # the mock ends when its stdin closes: fd 4 holds it open
  node "$ROOT/tests/mock/twilio.js" --sid "$sid" --token "$BENCH_TW_TOKEN" < tw.in > tw.out &
  tw=$!
  exec 4> tw.in
  for r in $(seq 50); do grep -q READY tw.out && break; sleep 0.1; done
  port=$(awk '/^READY/ { print $2 }' tw.out)
  [ -n "$port" ] || { echo "bench: the Twilio mock did not start" >&2; exit 1; }
  campaign_setup cg "$N" phone "+1555%06d7" sms "$(printf '[provider p]\ntype = twilio\nbase_url = http://127.0.0.1:%s\naccount_sid = %s\nauth_token_env = BENCH_TW_TOKEN\nfrom = +15550001111\nconnections = 64\nrate = 1000000/s\nburst = 10000\n' "$port" "$sid")"
  "${H_ARGS[@]}" send cg > /dev/null 2>&1
  exec 4>&-
  wait $tw || true
  sqlite3 cg.db "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null
  mv cg.db base.db
  sqlite3 -separator ' ' base.db "SELECT message_id, gateway_id FROM attempts WHERE outcome = 'accepted'" \
    | python3 "$ROOT/bench/sign_callbacks.py" "$ROOT/tests" "$BENCH_TW_TOKEN" http://127.0.0.1:8025 "$sid" > posts.txt
}

setup_"$KIND"
[ "$(wc -l < posts.txt)" = "$N" ] || { echo "bench: $(wc -l < posts.txt) $KIND posts, not $N" >&2; exit 1; }

# client MODE PORT: N requests of MODE (healthz, click, receipt) over 64
# connections; prints the count of each status
client() {
  python3 - "$1" "$2" "$N" posts.txt <<'PY'
import asyncio, collections, sys
mode, port, n, file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def post(path, body, more=b""):
    return (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
            b"\r\n%sContent-Length: %d\r\n\r\n%s" % (path, more, len(body), body))
if mode == "click":
    reqs = [post(l.strip().encode(), b"List-Unsubscribe=One-Click") for l in open(file)][:n]
elif mode == "receipt":
    reqs = [post(p, b, b"X-Twilio-Signature: %s\r\n" % sig)
            for p, sig, b in (l.rstrip(b"\n").split(b"\t") for l in open(file, "rb"))][:n]
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
ours=$(run "$KIND")
if [ "$KIND" = click ]; then
  rows=$(sqlite3 click.db "SELECT (SELECT count(*) FROM consent), (SELECT count(*) FROM consent_log)")
  [ "$rows" = "$N|$N" ] || { echo "bench: consent and consent_log rows $rows, not $N each" >&2; exit 1; }
  what="POST /u/TOKEN:" unit="one-click" check="consent and consent_log rows: $N each"
else
  rows=$(sqlite3 receipt.db "SELECT count(*) FROM receipts WHERE status = 'delivered' AND applied_at IS NOT NULL")
  [ "$rows" = "$N" ] || { echo "bench: $rows receipts applied, not $N" >&2; exit 1; }
  what="POST /hooks/twilio/p:" unit="callback" check="receipts rows, applied: $N"
fi
awk -v a="$none" -v h="$health" -v c="$ours" -v n="$N" -v what="$what" -v unit="$unit" -v check="$check" 'BEGIN {
  printf "   start-up and stop:      %d instructions\n", a
  printf "   GET /healthz:           %d instructions a request\n", (h - a) / n
  printf "   %-24s%d instructions a %s (%s)\n", what, (c - a) / n, unit, check
  printf "   %-24s%.2fx the instructions\n", unit " / healthz:", (c - a) / (h - a) }'
rm -f cg.csv tw.in ./*.db-wal ./*.db-shm
