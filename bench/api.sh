#!/usr/bin/env bash
# api.sh: make bench's JSON API part (run.sh runs it; alone: bash
# bench/api.sh [BUILD]). Two figures, on one `herald run --serve` that
# delivers into the outbox:
#   lane  a campaign of BENCH_LANE contacts (default 200,000) sends through
#         an outbox provider held to BENCH_LANE_RATE (default 2000/s: the
#         slow gateway), and while it runs 100 transactional messages are
#         posted to /api/v1/messages, one every 20 ms; each one's time from
#         its POST to its accepted attempt at the gateway, p50 and p99
#         (target: p99 under 1 s while the campaign runs).
#   api   POST /api/v1/messages from wrk over 64 connections (each request
#         a new contact), against GET /healthz on the same server with the
#         same wrk settings, best of 3 runs of BENCH_API_SECS (default 1 s)
#         each: the ratio is 202s per second / healthz (target at least
#         0.3x), and the messages queued must number the 202s.
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERALD=$ROOT/$B/herald
N=${BENCH_LANE:-200000}
RATE=${BENCH_LANE_RATE:-2000/s}
SECS=${BENCH_API_SECS:-1}
ROUNDS=3
OUT=$ROOT/bench/out/api
rm -rf "$OUT"
mkdir -p "$OUT/tpl"
cd "$OUT"
. "$ROOT/bench/lib.sh"

for f in "$ROOT"/templates/*; do ln -s "$f" tpl/; done
printf 'category: transactional\nurgent: true\nfrom: Acme <a@example.com>\n\n--- email.subject\nReset\n--- email.text\nYour code is {{ code }}.\n' > tpl/reset.tmpl
{ conf_head | sed "s|^templates = .*|templates = $OUT/tpl|"
  printf '[provider box]\ntype = outbox\npath = outbox\nrate = %s\n[channel email]\nproviders = box\n' "$RATE"; } > api.conf
awk -v n="$N" 'BEGIN { print "id,email,first_name,plan"
  for (i = 0; i < n; i++) printf "k%d,user%d@example.com,Ann,gold\n", i, i
  for (i = 0; i < 400000; i++) printf "c%d,api%d@example.com,Bo,none\n", i, i }' > api.csv
H() { "$HERALD" -c api.conf --db api.db "$@"; }
H init > /dev/null
H contacts import api.csv > /dev/null
H segment define gold 'plan = "gold"' > /dev/null
KEY=$(H apikey create bench --scope send,read --rate 1000000/s 2> /dev/null)

"$HERALD" -c api.conf --db api.db run --serve --listen 127.0.0.1:0 > run.out 2> run.err &
srv=$!
trap "kill $srv 2>/dev/null || true" EXIT
for r in $(seq 50); do grep -q listening run.out && break; sleep 0.1; done
port=$(sed -n 's/^listening on http:\/\/127.0.0.1:\([0-9]*\)$/\1/p' run.out)
[ -n "$port" ] || { echo "bench: herald run --serve did not start: $(cat run.err)" >&2; exit 1; }

echo "== lane: 100 API messages while a $N-message campaign sends at $RATE"
H campaign create lane --segment gold --template recall --channels email --now > /dev/null
sent() { sqlite3 api.db "SELECT count(*) FROM attempts WHERE outcome = 'accepted' AND campaign_id = (SELECT id FROM campaigns WHERE name = 'lane')"; }
for r in $(seq 600); do [ "$(sent)" -ge 2000 ] && break; sleep 0.1; done
python3 - "$port" "$KEY" > posts.txt <<'PY'
import json, sys, time, urllib.request
port, key = sys.argv[1], sys.argv[2]
for i in range(100):
    body = json.dumps({"template": "reset", "contact": "c%d" % (390000 + i), "data": {"code": "%06d" % i}}).encode()
    req = urllib.request.Request("http://127.0.0.1:%s/api/v1/messages" % port, data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
    t = time.time()
    with urllib.request.urlopen(req) as r:
        assert r.status == 202
        print(json.load(r)["id"], int(t * 1000))
    time.sleep(0.02)
PY
done_api() { sqlite3 api.db "SELECT count(*) FROM attempts a JOIN api_messages m ON m.message_id = a.message_id WHERE a.outcome = 'accepted'"; }
for r in $(seq 300); do [ "$(done_api)" -ge 100 ] && break; sleep 0.1; done
during=$(sent)
total=$(sqlite3 api.db "SELECT count(*) FROM messages WHERE run_id IN (SELECT id FROM runs WHERE campaign_id = (SELECT id FROM campaigns WHERE name = 'lane'))")
sqlite3 -separator ' ' api.db "SELECT a.message_id, a.at FROM attempts a JOIN api_messages m ON m.message_id = a.message_id WHERE a.outcome = 'accepted'" > at.txt
awk 'NR == FNR { post[$1] = $2; next } ($1 in post) { print $2 - post[$1] }' posts.txt at.txt | sort -n > lat.txt
n=$(wc -l < lat.txt)
[ "$n" = 100 ] || { echo "bench: $n of 100 API messages reached the gateway" >&2; exit 1; }
p50=$(sed -n 50p lat.txt); p99=$(sed -n 99p lat.txt)
echo "   campaign: $during of $total messages sent when the last API message went (still running)"
echo "   API messages, POST to the gateway: p50 ${p50} ms, p99 ${p99} ms, max $(tail -1 lat.txt) ms (target: p99 under 1000 ms)"
H campaign pause lane > /dev/null

echo "== api: POST /api/v1/messages, 64 connections, against /healthz"
wrk=(env WRK_THREADS=2 wrk -t2 -c64 -d"${SECS}s" -s "$ROOT/bench/api.lua")
REF=0; OURS=0; OK_ALL=0
for r in $(seq 0 $((ROUNDS - 1))); do
  "${wrk[@]}" "http://127.0.0.1:$port/" > healthz.out
  KEY=$KEY FIRST=$((r * 100000)) "${wrk[@]}" "http://127.0.0.1:$port/" > posts.out
  h=$(awk '/^api:/ { printf "%.0f", $3 / $5 }' healthz.out)
  ok=$(awk '/^api:/ { print $3 }' posts.out)
  o=$(awk '/^api:/ { printf "%.0f", $3 / $5 }' posts.out) # 202s over wrk's duration
  [ "$h" -gt "$REF" ] && REF=$h
  [ "$o" -gt "$OURS" ] && OURS=$o
  OK_ALL=$((OK_ALL + ok))
done
# the server's counter, once two reads agree (the last requests are done)
scrape() { curl -s "http://127.0.0.1:$port/metrics" \
  | awk '$1 == "herald_http_requests_total{route=\"api\",code=\"202\"}" { print $2 }'; }
served=$(scrape); sleep 0.2
while [ "$served" != "$(scrape)" ]; do served=$(scrape); sleep 0.2; done
queued=$(sqlite3 api.db "SELECT count(*) FROM api_messages")
kill $srv; wait $srv || true
trap - EXIT
echo "   wrk GET /healthz:             $REF requests/s (best of $ROUNDS runs of ${SECS}s)"
echo "   wrk POST /api/v1/messages:    $OURS messages/s answered 202 (best of $ROUNDS)"
echo "   API messages queued:          $queued ($served answered 202 by the server, 100 of them the lane's; $OK_ALL reached wrk)"
[ "$queued" = "$served" ] || { echo "bench: $queued messages for $served answers 202" >&2; exit 1; }
awk -v a="$OURS" -v b="$REF" 'BEGIN { printf "   ratio API send / healthz: %.2fx (target: at least 0.3x)\n", a / b }'
rm -f api.csv
