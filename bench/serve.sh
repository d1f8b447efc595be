#!/usr/bin/env bash
# serve.sh: make bench's one-click part (run.sh runs it; alone: bash
# bench/serve.sh [BUILD]). BENCH_TOKENS (default 100,000) contacts are
# imported and a marketing email campaign to them is materialized (paused,
# by run --once: real messages, nothing sent); bench/tokens signs each
# message's unsubscribe link as the dispatcher would. One `herald serve`
# then takes wrk's RFC 8058 one-click POSTs (bench/oneclick.lua: every
# request a different link, 64 connections) and, with the same wrk
# settings, GET /healthz: the ratio is one-click / healthz (target at least
# 0.5x), and the consent rows must number the 200s.
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERALD=$ROOT/$B/herald
T=${BENCH_TOKENS:-100000}
SECS=${BENCH_SERVE_SECS:-4}
OUT=$ROOT/bench/out/serve
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
. "$ROOT/bench/lib.sh"

echo "== one-click: $T real links, 64 connections, against /healthz"
{ conf_head; printf '[provider box]\ntype = outbox\npath = outbox\n[channel email]\nproviders = box\n'; } > oc.conf
awk -v n="$T" 'BEGIN { print "id,email,first_name,plan"
  for (i = 0; i < n; i++) printf "k%d,user%d@example.com,Ann,gold\n", i, i }' > oc.csv
H() { "$HERALD" -c oc.conf --db oc.db "$@"; }
H init > /dev/null
H contacts import oc.csv > /dev/null
H segment define all 'plan = "gold"' > /dev/null
H campaign create oc --segment all --template recall --channels email --now > /dev/null
H campaign pause oc > /dev/null
H run --once 2> /dev/null
sqlite3 -separator ' ' oc.db "SELECT id, contact_id FROM messages" \
  | "$ROOT/$B/bench/tokens" oc.conf "$(date +%s)" > tokens.txt
[ "$(wc -l < tokens.txt)" = "$T" ] || { echo "bench: $(wc -l < tokens.txt) links, not $T" >&2; exit 1; }

"$HERALD" -c oc.conf --db oc.db serve --listen 127.0.0.1:0 > serve.out 2> serve.err &
SRV=$!
trap 'kill $SRV 2>/dev/null || true' EXIT
for i in $(seq 50); do grep -q listening serve.out && break; sleep 0.1; done
PORT=$(sed -n 's/^listening on http:\/\/127.0.0.1:\([0-9]*\)$/\1/p' serve.out)
[ -n "$PORT" ] || { echo "bench: herald serve did not start: $(cat serve.err)" >&2; exit 1; }

WRK=(wrk -t2 -c64 -d"${SECS}s")
ref=$("${WRK[@]}" "http://127.0.0.1:$PORT/healthz" | awk '/Requests\/sec/ { printf "%.0f", $2 }')
TOKENS=tokens.txt WRK_THREADS=2 "${WRK[@]}" -s "$ROOT/bench/oneclick.lua" \
  "http://127.0.0.1:$PORT/" > oneclick.out
# what the server answered (also to requests wrk gave up on at its deadline)
served=$(curl -s "http://127.0.0.1:$PORT/metrics" \
  | awk '/^herald_http_requests_total\{route="unsubscribe",code="200"\}/ { print $2 }')
kill $SRV; wait $SRV || { echo "bench: herald serve did not stop cleanly" >&2; exit 1; }
trap - EXIT
ours=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' oneclick.out)
read -r ok ran_out < <(awk '/^oneclick:/ { print $3, $5 }' oneclick.out)
rows=$(sqlite3 oc.db "SELECT count(*) FROM consent WHERE status = 'opted_out' AND source = 'unsubscribe' AND message_id IS NOT NULL AND campaign_id IS NOT NULL")
echo "   wrk GET /healthz:                    $ref requests/s"
echo "   wrk POST /u/TOKEN (one-click):       $ours requests/s ($ok answered 200, each a new opt-out)"
echo "   consent rows written:                $rows (the server answered $served with 200)"
[ "$ran_out" = 0 ] || { echo "bench: the $T links ran out ($ran_out requests more): lower BENCH_SERVE_SECS" >&2; exit 1; }
[ "$rows" = "$served" ] && [ "$ok" -le "$rows" ] \
  || { echo "bench: $rows consent rows for $served answers 200 ($ok reached wrk)" >&2; exit 1; }
awk -v a="$ours" -v b="$ref" 'BEGIN { printf "   ratio one-click / healthz: %.2fx (target: at least 0.5x)\n", a / b }'
rm -f oc.csv
