#!/usr/bin/env bash
# Behaviour events at scale (make bench runs it after the log; it also runs
# alone: bash bench/events.sh [build]). Sizes: BENCH_EVENTS events
# (default 1,000,000) over BENCH_EVENT_CONTACTS contacts (default 100,000),
# from bench/gen_events and bench/gen_contacts; issue 22's sizes are
# BENCH_EVENTS=10000000 BENCH_EVENT_CONTACTS=1000000 (about 5 minutes here,
# so not the default).
#
#   import   herald events import of the CSV (contact lookup, time and value
#            checks, properties as JSON, duplicates ignored, all or nothing)
#            against the sqlite3 CLI's raw .import of the same file into a
#            bare table; best of 2 each, wall and CPU seconds. Target: at
#            most 3x.
#   segment  herald segment count of did("purchase", count >= 2, within
#            90d) and not received(within 7d) (sends: a third of the
#            contacts got a message in the last 30 days) against the same
#            query written by hand in the sqlite3 CLI; best of 3 each, the
#            counts must agree. Target: at most 1.5x.
#   rfm      herald segment rfm --event purchase --value amount on the same
#            data, seconds. Target: under 10 s.
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERALD=$ROOT/$B/herald
E=${BENCH_EVENTS:-1000000}
C=${BENCH_EVENT_CONTACTS:-100000}
OUT=$ROOT/bench/out/events
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
. "$ROOT/bench/lib.sh"
export HERALD_NOW=2026-11-22T00:00:00Z
NOW=1795305600
# timed OUTFILE CMD...: runs CMD, prints "wall cpu" seconds
timed() {
  local out=$1; shift
  /usr/bin/time -f "%e %U %S" -o time.out "$@" > "$out"
  awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' time.out
}

echo "== events: $E events over $C contacts"
"$ROOT/$B/bench/gen_contacts" "$C" > contacts.csv
"$ROOT/$B/bench/gen_events" "$E" "$C" > events.csv
ls -l events.csv | awk '{ printf "   file: %.1f MB\n", $5 / 1048576 }'
"$HERALD" --db base.db init > /dev/null
"$HERALD" --db base.db contacts import contacts.csv --default-region US > /dev/null
cat events.csv > /dev/null

ref=""; refc=""; ours=""; oursc=""
for i in 1 2; do
  rm -f bare.db; sync
  read -r w c < <(timed /dev/null sqlite3 bare.db ".mode csv" ".import events.csv events")
  ref=$([ -z "$ref" ] && echo "$w" || best "$ref" "$w"); refc=$([ -z "$refc" ] && echo "$c" || best "$refc" "$c")
  rm -f herald.db*; cp base.db herald.db; sync
  read -r w c < <(timed import.out "$HERALD" --db herald.db events import events.csv)
  ours=$([ -z "$ours" ] && echo "$w" || best "$ours" "$w"); oursc=$([ -z "$oursc" ] && echo "$c" || best "$oursc" "$c")
done
rows=$(sqlite3 herald.db "SELECT count(*) FROM events")
[ "$rows" = "$E" ] || { echo "bench: herald stored $rows of $E events" >&2; exit 1; }
echo "   sqlite3 .import (no checks):  ${ref}s (CPU ${refc}s)"
echo "   herald events import:         ${ours}s (CPU ${oursc}s)   ($(cat import.out))"
awk -v a="$ours" -v b="$ref" -v c="$oursc" -v d="$refc" \
  'BEGIN { printf "   ratio herald / sqlite3: %.2fx (CPU %.2fx; target: at most 3x)\n", a / b, c / d }'
rm -f bare.db events.csv contacts.csv

# a third of the contacts got a message in the last 30 days
sqlite3 herald.db "INSERT INTO sends (message_id, contact_id, at, campaign_id, category, channel)
  SELECT id, id, $NOW - (id * 7919) % (30 * 86400), 1, 0, 0 FROM contacts WHERE id % 3 = 0"
RULE='did("purchase", count >= 2, within 90d) and not received(within 7d)'
SQL="SELECT count(*) FROM contacts c WHERE (SELECT count(*) FROM events e WHERE e.contact_id = c.id
  AND e.name = 'purchase' AND e.at BETWEEN $NOW - 90 * 86400 AND $NOW) >= 2 AND NOT EXISTS
  (SELECT 1 FROM sends s WHERE s.contact_id = c.id AND s.at BETWEEN $NOW - 7 * 86400 AND $NOW)"
count_bench herald.db "$RULE" "$SQL"

read -r w c < <(timed rfm.out "$HERALD" --db herald.db segment rfm --event purchase --value amount)
echo "   herald segment rfm: ${w}s (CPU ${c}s; target: under 10s), $(head -1 rfm.out)"
unset HERALD_NOW
rm -f herald.db* base.db* time.out
