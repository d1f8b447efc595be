#!/usr/bin/env bash
# scale.sh: issue 25's scale goal (`make bench` runs it last; alone: bash
# bench/scale.sh [BUILD]; 10,000,000 messages take about ten minutes and
# several GB of disk, removed at the end). BENCH_SCALE (default 10,000,000)
# generated contacts are imported; an SMS campaign to all of them, paused,
# is materialized by `herald run --once` against one INSERT ... SELECT of
# the same rows in the sqlite3 CLI (target: at most 1.1x), then resumed
# and sent whole through the outbox by one `herald run --once` under
# /usr/bin/time (target: peak RSS under 64 MB; the time is reported).
# Every message must end sent, and the outbox must hold one line each.
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERALD=$ROOT/$B/herald
N=${BENCH_SCALE:-10000000}
OUT=$ROOT/bench/out/scale
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
. "$ROOT/bench/lib.sh"
trap 'cd / && rm -rf "$OUT"' EXIT

echo "== scale: an SMS campaign of $N messages through the outbox"
"$ROOT/$B/bench/gen_contacts" "$N" > contacts.csv
outbox_conf sms > scale.conf
H() { "$HERALD" -c scale.conf --db herald.db "$@"; }
export HERALD_NOW=2026-11-22T00:00:00Z
H init > /dev/null
t0=$(now); H contacts import contacts.csv --default-region US > /dev/null; t1=$(now)
echo "   import: $(secs "$t0" "$t1")s"
rm -f contacts.csv
H segment define all 'phone exists' > /dev/null
H campaign create big --segment all --template recall --channels sms --now > /dev/null
H campaign pause big > /dev/null
want=$(sqlite3 herald.db "SELECT count(*) FROM contacts WHERE phone IS NOT NULL")

materialize_vs_sql "phone IS NOT NULL" "$HERALD" -c scale.conf --db herald.db
[ "$ROWS" = "$want" ] || { echo "bench: queued $ROWS of $want" >&2; exit 1; }
echo "   sqlite3 INSERT ... SELECT: ${REF}s ($ROWS rows)"
echo "   herald run --once (materialized, paused): ${OURS}s"
awk -v a="$OURS" -v b="$REF" 'BEGIN { printf "   ratio herald / sqlite3: %.2fx (target: at most 1.1x)\n", a / b }'

H campaign resume big > /dev/null
run_rss "$HERALD" -c scale.conf --db herald.db
sent=$(sqlite3 herald.db "SELECT count(*) FROM messages WHERE state = 2")
lines=$(wc -l < outbox/sms.jsonl)
[ "$sent" = "$want" ] && [ "$lines" = "$want" ] \
  || { echo "bench: $sent sent, $lines outbox lines, of $want" >&2; tail -3 run.err >&2; exit 1; }
echo "   sent $sent through the outbox in ${EL}s ($(awk -v n="$sent" -v t="$EL" 'BEGIN { printf "%.0f", n / t }') messages/s)"
awk -v k="$KB" 'BEGIN { printf "   peak RSS: %.1f MB (target: under 64 MB)\n", k / 1024 }'
