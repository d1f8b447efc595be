#!/usr/bin/env bash
# make bench: each figure is a ratio to a reference measured in the same run
# on the same machine and the same data.
#
#   import  herald contacts import of 1,000,000 generated contacts (every
#           field validated, typed attributes, upsert by id) against the
#           sqlite3 CLI's raw .import of the same file into a bare table.
#           Target: at most 1.5x (issue 25).
#   wide    a dry run of a one-row file of 40,000 attribute columns against
#           one of 5,000: eight times the width should cost about eight
#           times the time (a search per column once made it 64; was a
#           timed assertion in test_import, which a loaded machine failed).
#   segment herald segment count of a three-condition rule over attributes on
#           the imported 1,000,000 contacts, against the same query written by
#           hand and run by the sqlite3 CLI on the same database (best of 3
#           each; the counts must agree). Target: at most 1.5x.
#   smtp    50,000 messages of 3,000 bytes through the SMTP driver alone (no
#           dispatcher) to postfix's smtp-sink over 16 connections, against
#           postfix's smtp-source sending the same to the same sink over 16
#           sessions (-d: several messages per connection, as herald does).
#           Target: at least 0.6x.
#   push    200,000 messages through the FCM driver alone over 64 connections
#           to nginx on 127.0.0.1 answering every send with a fixed FCM
#           success body (the OAuth token from a stub location on the same
#           nginx), against wrk posting the same body (bench/fcm body) with
#           the same headers to the same nginx over 64 connections for 10 s.
#           Target: at least 0.5x.
#   campaigns  the same email and push loads as whole campaigns (herald send:
#           materialize, claim with lease, checks, strict render, throttle,
#           send, delivery log): 50,000 emails against smtp-source (target
#           0.85x, issue 25) and 200,000 FCM pushes against wrk (target 0.6x); a
#           paused 1,000,000-contact campaign materialized by run --once
#           against one INSERT ... SELECT of the same rows in the sqlite3 CLI
#           (target: under 5 s), then sent through the outbox by run --once,
#           reporting its peak RSS (target: under 100 MB).
#   render  the recall email and SMS parts for 1,000,000 contacts, by herald
#           and by mustache.js (npm, pinned in bench/package-lock.json), from
#           the same plain-Mustache sources (bench/recall-plain: mustache.js
#           has neither filters nor parents) and the same data; the outputs
#           must be identical. Target: at least 15x (issue 25). Also reported:
#           herald's real recall template (layout, localized filters) on the
#           same data, against mustache.js's plain one (target: at least 3x).
#   log     a 10,000,000-row delivery log: each filter of herald log returns
#           a page of 100 rows in under 100 ms (bench/log.sh says more).
#   console the web console over the same log: the campaign page and log
#           pages (the first, one deep by keyset cursor) served in under
#           150 ms each, the server's own time, p95 over 50 loads
#           (bench/console.sh says more).
#   one-click  RFC 8058 one-click POSTs to herald serve, each to a different
#           one of 450,000 real links, over 64 connections from wrk, against
#           GET /healthz on the same server with the same wrk settings; the
#           consent rows must number the 200s (bench/serve.sh says more).
#           Target: at least 0.5x.
#   aliyun  SendSms through the aliyun_sms driver (each request signed anew)
#           to the Aliyun mock (tests/mock/aliyun.js, verifying signatures),
#           against wrk posting one request signed the same way to the same
#           mock; bench/aliyun.sh says more. Target: at least 0.5x.
#   receipts  signed Twilio status callbacks to herald serve's
#           /hooks/twilio/PROVIDER, one per message of an SMS campaign sent
#           through the Twilio mock (BENCH_RECEIPTS, default 300,000; the
#           issue's 1,000,000 takes minutes to send first), over 64
#           connections from wrk, against GET /healthz on the same server;
#           the receipts rows must number the 200s (bench/receipts.sh).
#           Target: at least 0.5x.
#   dsn     the bounce mailbox's test mails (tests/data/dsn) parsed 10,000
#           times by hd_dsn_parse against Python's email package walking the
#           same mails' delivery-status parts (bench/dsn.sh). Target: at
#           least 10x.
#   events  behaviour events: events import against sqlite3's .import (target
#           3x), a did()/received() segment count against hand-written SQL
#           (1.5x) and segment rfm (under 10 s); bench/events.sh says more.
#   api     the JSON API (bench/api.sh): 100 transactional messages posted
#           while a 200,000-message campaign sends through a slow gateway
#           (an outbox held to 2000/s), their p50/p99 from POST to the
#           gateway (target: p99 under 1 s); and POST /api/v1/messages from
#           wrk over 64 connections into the outbox (herald run --serve)
#           against /healthz on the same server (target at least 0.3x), the
#           messages queued numbering the 202s.
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERALD=$ROOT/$B/herald
GEN=$ROOT/$B/bench/gen_contacts
N=${BENCH_CONTACTS:-1000000}
OUT=$ROOT/bench/out
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"

. "$ROOT/bench/lib.sh"

# campaign_bench NAME N COLUMN FORMAT CHANNEL PROVIDER_SECTION: a campaign of
# N contacts (COLUMN written with printf FORMAT of the row number) through
# `herald send`, the recall template on CHANNEL; prints "messages/s sent"
campaign_bench() {
  local name=$1
  campaign_setup "$@"
  local t0 t1
  t0=$(now); "${H_ARGS[@]}" send "$name" > /dev/null 2>&1; t1=$(now)
  awk -v n="$2" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f ", n / (b - a) }'
  sqlite3 "$name.db" "SELECT count(*) FROM messages WHERE state = 2"
  campaign_cleanup "$name"
}

echo "== import: $N contacts"
"$GEN" "$N" > contacts.csv
ls -l contacts.csv | awk '{ printf "   file: %.1f MB\n", $5 / 1048576 }'
# warm the page cache so both sides read from memory
cat contacts.csv > /dev/null

# Each side runs twice on a fresh database after a sync (so neither pays for
# the other's write-back); the better time counts.
ref=""
for i in 1 2; do
  rm -f bare.db; sync
  t0=$(now); sqlite3 bare.db ".mode csv" ".import contacts.csv contacts"; t1=$(now)
  t=$(secs "$t0" "$t1"); ref=$([ -z "$ref" ] && echo "$t" || best "$ref" "$t")
done
echo "   sqlite3 .import (no validation):  ${ref}s"
ours=""
for i in 1 2; do
  rm -f herald.db*; "$HERALD" --db herald.db init > /dev/null; sync
  t0=$(now)
  "$HERALD" --db herald.db contacts import contacts.csv --default-region US > import.out
  t1=$(now)
  t=$(secs "$t0" "$t1"); ours=$([ -z "$ours" ] && echo "$t" || best "$ours" "$t")
done
echo "   herald contacts import:           ${ours}s   ($(cat import.out))"
rows=$(sqlite3 herald.db "SELECT count(*) FROM contacts")
[ "$rows" = "$N" ] || { echo "bench: herald imported $rows of $N rows" >&2; exit 1; }
awk -v a="$ours" -v b="$ref" 'BEGIN { printf "   ratio herald / sqlite3: %.2fx (target: at most 1.5x)\n", a / b }'
rm -f contacts.csv bare.db

echo "== import: a wide file (5,000 and 40,000 attribute columns, one row, dry run)"
wide_csv() {
  awk -v n="$1" 'BEGIN { printf "id"; for (i = 0; i < n; i++) printf ",a%d", i; printf "\nc1";
    for (i = 0; i < n; i++) printf ",%d", i; printf "\n" }' > "wide$1.csv"
}
wide_secs() {
  local b="" t t0 t1
  for i in 1 2 3; do
    t0=$(now); "$HERALD" --db herald.db contacts import "wide$1.csv" --dry-run > /dev/null; t1=$(now)
    t=$(secs "$t0" "$t1"); b=$([ -z "$b" ] && echo "$t" || best "$b" "$t")
  done
  echo "$b"
}
wide_csv 5000; wide_csv 40000
narrow=$(wide_secs 5000); wide=$(wide_secs 40000)
awk -v a="$wide" -v b="$narrow" 'BEGIN { printf "   5,000 columns: %ss; 40,000: %ss; ratio %.1fx (linear: about 8x)\n", b, a, (b > 0 ? a / b : 0) }'
rm -f wide5000.csv wide40000.csv

echo "== segment count: $N contacts"
export HERALD_NOW=2026-11-22T00:00:00Z
RULE='days_since(last_active) >= 30 and plan in ("gold", "silver") and lifetime_spend > 1000'
SQL="SELECT count(*) FROM contacts WHERE json_extract(attrs, '\$.last_active') <= '2026-10-23' AND json_extract(attrs, '\$.plan') IN ('gold', 'silver') AND json_extract(attrs, '\$.lifetime_spend') > 1000"
count_bench herald.db "$RULE" "$SQL"

echo "== materialize: a campaign over $N contacts"
outbox_conf email sms push > bench.conf
H() { "$HERALD" -c bench.conf --db herald.db "$@"; }
H segment define all 'lifetime_spend >= 0' > /dev/null
H campaign create mat --segment all --template recall --channels sms --now > /dev/null
H campaign pause mat > /dev/null
# the reference: the same rows queued by one INSERT ... SELECT in the
# sqlite3 CLI; herald: a paused campaign's firing is materialized by run
# --once, and not sent
materialize_vs_sql "json_extract(attrs, '\$.lifetime_spend') >= 0" "$HERALD" -c bench.conf --db herald.db
ref=$REF ours=$OURS
echo "   sqlite3 INSERT ... SELECT:          ${ref}s ($ROWS rows)"
echo "   herald (batches of 100,000, holdout and variant hashing, resumable): ${ours}s (target: under 5s)"
awk -v a="$ours" -v b="$ref" 'BEGIN { printf "   ratio herald / sqlite3: %.2fx (target: at most 1.1x, issue 25)\n", a / b }'

echo "== memory: herald run dispatching the $N-message campaign (outbox)"
H campaign resume mat > /dev/null
run_rss "$HERALD" -c bench.conf --db herald.db
kb=$KB el=$EL
sent=$(sqlite3 herald.db "SELECT count(*) FROM messages WHERE state = 2")
echo "   sent $sent in ${el}s ($(awk -v n="$sent" -v t="$el" 'BEGIN { printf "%.0f", n / t }') messages/s)"
awk -v k="$kb" 'BEGIN { printf "   peak RSS: %.1f MB (target: under 100 MB)\n", k / 1024 }'
unset HERALD_NOW
rm -rf herald.db* outbox run.err

M=${BENCH_MAILS:-50000}
echo "== smtp: $M messages over 16 connections to smtp-sink"
start_sink
trap 'kill $SINK 2>/dev/null || true' EXIT
t0=$(now)
smtp-source -d -s 16 -m "$M" -l 3000 -f bench@example.com -t sink@example.com "127.0.0.1:$SINK_PORT"
t1=$(now)
src=$(awk -v n="$M" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
read -r ours ours_ok < <("$ROOT/$B/bench/smtp" "$SINK_PORT" "$M" 16 3000)
echo "   smtp-source (postfix): $src messages/s"
echo "   herald SMTP driver:    $ours messages/s ($ours_ok accepted)"
awk -v a="$ours" -v b="$src" 'BEGIN { printf "   ratio herald / smtp-source: %.2fx (target: at least 0.6x)\n", a / b }'
# the same through a campaign: materialize, claim, check, render, throttle, send, log
read -r camp sent < <(campaign_bench mail "$M" email "user%d@example.com" email "$(smtp_provider)")
kill $SINK; trap - EXIT
echo "   herald send, a $M-message campaign: $camp messages/s ($sent sent, the recall template, about 3,000 bytes each)"
awk -v a="$camp" -v b="$src" 'BEGIN { printf "   ratio campaign / smtp-source: %.2fx (target: at least 0.85x, issue 25)\n", a / b }'

P=${BENCH_PUSHES:-200000}
echo "== push: $P FCM messages over 64 connections to nginx"
start_nginx
trap 'kill $NGX 2>/dev/null || true' EXIT
"$ROOT/$B/bench/fcm" body > nginx/body.json
cat > nginx/post.lua <<'LUA'
wrk.method = "POST"
local f = io.open("nginx/body.json", "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "application/json; charset=UTF-8"
wrk.headers["Authorization"] = "Bearer ya29.bench-token"
LUA
ref=$(wrk -t2 -c64 -d10s -s nginx/post.lua "http://127.0.0.1:$NGX_PORT/v1/projects/herald-bench/messages:send" \
      | awk '/Requests\/sec/ { printf "%.0f", $2 }')
read -r ours ours_ok < <("$ROOT/$B/bench/fcm" "$NGX_PORT" "$P" 64 nginx/sa.json)
echo "   wrk (same body, 64 connections): $ref requests/s"
echo "   herald FCM driver:               $ours messages/s ($ours_ok accepted, $(wc -c < nginx/body.json) bytes each)"
awk -v a="$ours" -v b="$ref" 'BEGIN { printf "   ratio herald / wrk: %.2fx (target: at least 0.5x)\n", a / b }'
read -r camp sent < <(campaign_bench push "$P" fcm_token "fcm%012d:APA91bbench" push "$(fcm_provider)")
kill $NGX; trap - EXIT
echo "   herald send, a $P-message campaign: $camp messages/s ($sent sent)"
awk -v a="$camp" -v b="$ref" 'BEGIN { printf "   ratio campaign / wrk: %.2fx (target: at least 0.6x, issue 25)\n", a / b }'

R=${BENCH_RENDERS:-1000000}
echo "== render: recall email + SMS for $R contacts"
(cd "$ROOT/bench" && npm ci --silent --no-audit --no-fund > /dev/null)
"$ROOT/$B/bench/render" gen data.json
read -r ours ours_sum ours_bytes < <("$ROOT/$B/bench/render" plain "$ROOT/bench/recall-plain" data.json "$R")
read -r js js_sum js_bytes < <(node "$ROOT/bench/render.js" "$ROOT/bench/recall-plain" data.json "$R")
echo "   mustache.js $(node -p 'require("'"$ROOT"'/bench/node_modules/mustache/package.json").version'): $js contacts/s ($js_bytes bytes)"
echo "   herald:           $ours contacts/s ($ours_bytes bytes)"
if [ "$ours_sum" != "$js_sum" ] || [ "$ours_bytes" != "$js_bytes" ]; then
  echo "bench: outputs differ (checksums $ours_sum vs $js_sum)" >&2; exit 1
fi
echo "   outputs identical (FNV-1a of the first 1000: $ours_sum)"
awk -v a="$ours" -v b="$js" 'BEGIN { printf "   ratio herald / mustache.js: %.1fx (target: at least 15x, issue 25)\n", a / b }'
read -r real _ _ < <("$ROOT/$B/bench/render" recall "$ROOT/templates" data.json "$R")
echo "   herald, real recall template (layout, filters, ICU dates): $real contacts/s"
awk -v a="$real" -v b="$js" 'BEGIN { printf "   ratio real recall / mustache.js plain: %.1fx (target: at least 3x, issue 25)\n", a / b }'
rm -f data.json

bash "$ROOT/bench/log.sh" "$B"
bash "$ROOT/bench/console.sh" "$B"
bash "$ROOT/bench/serve.sh" "$B"
bash "$ROOT/bench/receipts.sh" "$B"
bash "$ROOT/bench/dsn.sh" "$B"
bash "$ROOT/bench/events.sh" "$B"
bash "$ROOT/bench/aliyun.sh" "$B"
bash "$ROOT/bench/api.sh" "$B"
