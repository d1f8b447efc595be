#!/usr/bin/env bash
# The delivery log at 10,000,000 rows (make bench runs it last; it also runs
# alone: bash bench/log.sh [build]).
#
# A log of BENCH_LOG_ROWS rows (default 10,000,000) over 50 campaigns and
# 100,000 contacts (every contact in every campaign, each campaign with
# every outcome), 22 hours of sends, is written straight into the schema
# herald made (its own indexes, dropped during the load and made again
# from their own definitions). Then each filter of herald log returns a
# page of 100 rows, newest first, timed as the whole command (process
# start, configuration, query, output) as the best of 5. Target: under
# 100 ms each. The reference: the sqlite3 CLI running the same page query
# by hand. Also: the stats of one campaign (200,000 rows), one campaign's
# whole log streamed as CSV with the peak RSS, and a prune of a tenth.
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/log_gen.sh"
HERALD=$ROOT/$B/herald
L=${BENCH_LOG_ROWS:-10000000}
OUT=$ROOT/bench/out/log
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"

cat > bench.conf <<CONF
[herald]
database = log.db
timezone = UTC
log_level = warn
[provider box]
type = outbox
path = outbox
[channel email]
providers = box
CONF
H() { "$HERALD" -c bench.conf "$@"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "== log: a $L-row delivery log, 50 campaigns, 100,000 contacts"
H init > /dev/null
T0=1795305600000 # 2026-11-21T12:00:00Z, in ms
t0=$(ms)
log_gen log.db "$L" "$T0"
t1=$(ms)
echo "   written and indexed in $(( (t1 - t0) / 1000 ))s; $(du -m log.db | cut -f1) MB"

best() { # best of 5, in ms, of a command whose output is thrown away
  local b=999999 s e
  for _ in 1 2 3 4 5; do
    s=$(ms); "$@" > /dev/null; e=$(ms)
    [ $((e - s)) -lt "$b" ] && b=$((e - s))
  done
  echo "$b"
}
MID=$(( T0 + L * 4 ))
SINCE=$(date -u -d "@$(( MID / 1000 ))" +%Y-%m-%dT%H:%M:%SZ)
UNTIL=$(date -u -d "@$(( MID / 1000 + 3600 ))" +%Y-%m-%dT%H:%M:%SZ)
ref=$(best sqlite3 log.db "SELECT * FROM attempts WHERE campaign_id = 17 ORDER BY at DESC, id DESC LIMIT 100")
echo "   reference: sqlite3 CLI, the campaign page query by hand: ${ref} ms"
worst=0
page() { # label, herald log arguments
  local label=$1; shift
  local t; t=$(best H log --limit 100 "$@")
  local n; n=$(H log --limit 100 --format jsonl "$@" | wc -l)
  [ "$t" -gt "$worst" ] && worst=$t
  printf "   %-44s %4d ms (%d rows)\n" "$label" "$t" "$n"
}
page "--campaign c17" --campaign c17
page "--contact k31337" --contact k31337
page "--since/--until (one hour in the middle)" --since "$SINCE" --until "$UNTIL"
page "--campaign c17 --since/--until" --campaign c17 --since "$SINCE" --until "$UNTIL"
page "--campaign c17 --run 1" --campaign c17 --run 1
page "--contact k31337 --campaign c17" --contact k31337 --campaign c17
page "--campaign c17 --outcome permanent" --campaign c17 --outcome permanent
page "--reason bad_address --oldest-first" --reason bad_address --oldest-first
echo "   slowest page: ${worst} ms (target: under 100 ms)"
awk -v a="$worst" -v b="$ref" 'BEGIN { printf "   ratio slowest page / sqlite3 page: %.1fx\n", a / (b > 0 ? b : 1) }'

t0=$(ms); H stats c17 > /dev/null; t1=$(ms)
echo "   herald stats c17 ($(( L / 50 )) rows): $((t1 - t0)) ms"
/usr/bin/time -f "%M %e" -o time.out "$HERALD" -c bench.conf log --campaign c17 --format csv > c17.csv
read -r kb el < time.out
rows=$(( $(wc -l < c17.csv) - 1 ))
awk -v n="$rows" -v t="$el" -v k="$kb" 'BEGIN { printf "   herald log --campaign c17 --format csv: %d rows in %.2fs (%.0f rows/s), peak RSS %.1f MB\n", n, t, n / (t > 0 ? t : 0.01), k / 1024 }'
CUT=$(( (T0 + L * 8 / 10) / 1000 ))
t0=$(ms)
HERALD_NOW=$(date -u -d "@$(( CUT + 180 * 86400 ))" +%Y-%m-%dT%H:%M:%SZ) H log prune --older-than 180d
t1=$(ms)
echo "   prune of a tenth of the log: $((t1 - t0)) ms"
rm -rf "$OUT"
