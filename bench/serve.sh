#!/usr/bin/env bash
# serve.sh: make bench's one-click part (run.sh runs it; alone: bash
# bench/serve.sh [BUILD]). BENCH_TOKENS (default 450,000: each of the three
# 1 s rounds gets a third, which must last a second at half of /healthz's
# rate or the figure is only a floor; 100,000 capped it at 33,333/s, and
# 300,000 ran out at 90,000/s on a machine with /healthz at 200,000)
# contacts are imported and a marketing email campaign to them is
# materialized (paused, by run --once: real messages, nothing sent);
# bench/tokens signs each message's unsubscribe link as the dispatcher
# would. One `herald serve`
# then takes wrk's RFC 8058 one-click POSTs (bench/oneclick.lua: every
# request a different link, 64 connections) and, with the same wrk
# settings and the same Lua script, GET /healthz: the ratio is one-click /
# healthz (target at least 0.5x), and the consent rows must number the
# 200s the server counted.
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERALD=$ROOT/$B/herald
T=${BENCH_TOKENS:-450000}
SECS=${BENCH_SERVE_SECS:-1}
ROUNDS=3
OUT=$ROOT/bench/out/serve
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
. "$ROOT/bench/lib.sh"

echo "== one-click: $T real links, 64 connections, against /healthz"
oneclick_links oc "$T" > tokens.txt
[ "$(wc -l < tokens.txt)" = "$T" ] || { echo "bench: $(wc -l < tokens.txt) links, not $T" >&2; exit 1; }

serve_bench unsubscribe tokens.txt -c oc.conf --db oc.db
rows=$(sqlite3 oc.db "SELECT count(*) FROM consent WHERE status = 'opted_out' AND source = 'unsubscribe' AND message_id IS NOT NULL AND campaign_id IS NOT NULL")
more=""; [ "$OUT_ALL" = 0 ] || more="; at least: a slice of links ran out, raise BENCH_TOKENS"
echo "   wrk GET /healthz:                    $REF requests/s (best of $ROUNDS runs of ${SECS}s)"
echo "   wrk POST /u/TOKEN (one-click):       $OURS opt-outs/s answered 200 (best of $ROUNDS$more)"
echo "   consent rows written:                $rows ($SERVED answered 200 by the server, $OK_ALL reached wrk)"
[ "$rows" = "$SERVED" ] && [ "$OK_ALL" -le "$rows" ] \
  || { echo "bench: $rows consent rows for $SERVED answers 200 ($OK_ALL reached wrk)" >&2; exit 1; }
echo "   the service's CPU a request:         /healthz $REF_US µs, one-click $OURS_US µs (least of $ROUNDS)"
awk -v a="$OURS" -v b="$REF" 'BEGIN { printf "   ratio one-click / healthz: %.2fx (target: at least 0.5x)\n", a / b }'
rm -f oc.csv
