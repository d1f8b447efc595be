#!/usr/bin/env bash
# receipts.sh: make bench's status-callback part (issue 19; run.sh runs it;
# alone: bash bench/receipts.sh [BUILD]). BENCH_RECEIPTS (default 300,000:
# the issue's 1,000,000 takes minutes to send first, and 100,000 ran out
# within a second's round at 33,000 a second) contacts get an SMS
# campaign through the Twilio mock (tests/mock/twilio.js, every message its
# own sid; the numbers end in 7, which no fault of the mock does);
# bench/sign_callbacks.py (tests/twilio_sign.py: Python's hmac, not
# herald's code) then signs one "delivered" status callback per message,
# for the URL Twilio would call (public_url/hooks/twilio/p?m=ID). One `herald serve` takes
# them from wrk over 64 connections (bench/oneclick.lua posts each line
# once) and, with the same wrk settings and the same Lua script, GET
# /healthz: the ratio is callbacks answered 200 / healthz (target at least
# 0.5x), and the receipts table must hold one row per 200 the server
# counted (a 200 is sent only once its receipt is committed).
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERALD=$ROOT/$B/herald
N=${BENCH_RECEIPTS:-300000}
SECS=${BENCH_SERVE_SECS:-1}
ROUNDS=3
OUT=$ROOT/bench/out/receipts
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
. "$ROOT/bench/lib.sh"
TW_SID=AC0123456789abcdef0123456789abcdef
export BENCH_TW_TOKEN=tw-Bench-Token-0001

echo "== receipts: $N signed Twilio status callbacks, 64 connections, against /healthz"
# the mock ends when its stdin closes: fd 4 holds the fifo open
mkfifo tw.in
node "$ROOT/tests/mock/twilio.js" --sid "$TW_SID" --token "$BENCH_TW_TOKEN" < tw.in > tw.out &
TW=$!
exec 4> tw.in
trap 'exec 4>&-; kill $TW 2>/dev/null || true' EXIT
for i in $(seq 50); do grep -q READY tw.out && break; sleep 0.1; done
TW_PORT=$(awk '/^READY/ { print $2 }' tw.out)
[ -n "$TW_PORT" ] || { echo "bench: the Twilio mock did not start" >&2; exit 1; }
campaign_setup rc "$N" phone "+1555%06d7" sms "$(printf '[provider p]\ntype = twilio\nbase_url = http://127.0.0.1:%s\naccount_sid = %s\nauth_token_env = BENCH_TW_TOKEN\nfrom = +15550001111\nconnections = 64\nrate = 1000000/s\nburst = 10000\n' "$TW_PORT" "$TW_SID")"
"${H_ARGS[@]}" send rc > /dev/null 2>&1
exec 4>&-; wait $TW || true; trap - EXIT
sqlite3 -separator ' ' rc.db "SELECT message_id, gateway_id FROM attempts WHERE outcome = 'accepted'" \
  | /usr/bin/python3 "$ROOT/bench/sign_callbacks.py" "$ROOT/tests" "$BENCH_TW_TOKEN" http://127.0.0.1:8025 "$TW_SID" \
  > callbacks.txt
[ "$(wc -l < callbacks.txt)" = "$N" ] || { echo "bench: $(wc -l < callbacks.txt) messages sent, not $N" >&2; exit 1; }

serve_bench hooks callbacks.txt -c rc.conf --db rc.db
rows=$(sqlite3 rc.db "SELECT count(*) FROM receipts WHERE status = 'delivered'")
applied=$(sqlite3 rc.db "SELECT count(*) FROM receipts WHERE applied_at IS NOT NULL")
more=""; [ "$OUT_ALL" = 0 ] || more="; at least: a slice ran out, raise BENCH_RECEIPTS"
echo "   wrk GET /healthz:                      $REF requests/s (best of $ROUNDS runs of ${SECS}s)"
echo "   wrk POST /hooks/twilio/p (signed):    $OURS receipts/s answered 200 (best of $ROUNDS$more)"
echo "   receipts rows written:                 $rows ($SERVED answered 200 by the server, $OK_ALL reached wrk; $applied applied to their message)"
[ "$rows" = "$SERVED" ] && [ "$OK_ALL" -le "$rows" ] \
  || { echo "bench: $rows receipts for $SERVED answers 200 ($OK_ALL reached wrk)" >&2; exit 1; }
echo "   the service's CPU a request:           /healthz $REF_US µs, callback $OURS_US µs (least of $ROUNDS)"
awk -v a="$OURS" -v b="$REF" 'BEGIN { printf "   ratio receipts / healthz: %.2fx (target: at least 0.5x)\n", a / b }'
rm -f rc.csv tw.in
