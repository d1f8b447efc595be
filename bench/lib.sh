# lib.sh: what the benchmark scripts share (sourced by run.sh and
# callgrind.sh, which set ROOT, B and HERALD and work in their own folder):
# timing, ports, the head of a campaign's configuration, a campaign made
# ready to send, and the local peers a campaign sends to (postfix's
# smtp-sink for email, nginx answering like FCM for push).

now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# waits (at most 5 s) until something listens on 127.0.0.1:$1
wait_port() { for i in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }

# count_bench DB RULE SQL: herald segment count --expr RULE against the
# sqlite3 CLI running SQL (the same query by hand) on DB, best of 3 each;
# the counts must agree. Prints the figures and the ratio (target 1.5x).
count_bench() {
  local db=$1 rule=$2 sql=$3 ref="" ours="" t t0 t1 ref_n ours_n i
  for i in 1 2 3; do
    t0=$(now); ref_n=$(sqlite3 "$db" "$sql"); t1=$(now)
    t=$(secs "$t0" "$t1"); ref=$([ -z "$ref" ] && echo "$t" || best "$ref" "$t")
    t0=$(now); ours_n=$("$HERALD" --db "$db" segment count --expr "$rule"); t1=$(now)
    t=$(secs "$t0" "$t1"); ours=$([ -z "$ours" ] && echo "$t" || best "$ours" "$t")
  done
  [ "$ref_n" = "$ours_n" ] || { echo "bench: counts differ: sqlite3 $ref_n, herald $ours_n" >&2; exit 1; }
  echo "   rule: $rule"
  echo "   sqlite3, hand-written SQL:  ${ref}s ($ref_n contacts)"
  echo "   herald segment count:       ${ours}s ($ours_n contacts)"
  awk -v a="$ours" -v b="$ref" 'BEGIN { printf "   ratio herald / sqlite3: %.2fx (target: at most 1.5x)\n", a / b }'
}

# the head of every campaign bench's configuration: the shipped templates
# and the variables they use, and the service marketing email links to
# (herald init makes the signing secret in the bench's folder)
conf_head() {
  cat <<CONF
[herald]
templates = $ROOT/templates
log_level = warn
[serve]
public_url = http://127.0.0.1:8025
secret_file = herald.secret
[template_vars]
brand = Acme
shop_url = https://shop.example.com
unsubscribe_url = https://example.com/unsubscribe
support_email = support@example.com
CONF
}

# campaign_setup NAME N COLUMN FORMAT CHANNEL PROVIDER_SECTION: NAME.db with
# N contacts (COLUMN written with printf FORMAT of the row number) and a
# campaign NAME of the recall template on CHANNEL, due now; NAME.conf sends
# it through PROVIDER_SECTION. BENCH_DB (a path or a postgresql:// URI of an
# empty database) instead of NAME.db if set. Leaves "${H_ARGS[@]}", the
# herald command line for that database.
# oneclick_links NAME N: NAME.conf (the outbox), NAME.db with N contacts
# and a paused email campaign materialized, and on stdout one signed
# /u/TOKEN path a message (bench/tokens), for the one-click benches
oneclick_links() {
  { conf_head; printf '[provider box]\ntype = outbox\npath = outbox\n[channel email]\nproviders = box\n'; } > "$1.conf"
  awk -v n="$2" 'BEGIN { print "id,email,first_name,plan"
    for (i = 0; i < n; i++) printf "k%d,user%d@example.com,Ann,gold\n", i, i }' > "$1.csv"
  "$HERALD" -c "$1.conf" --db "$1.db" init > /dev/null
  "$HERALD" -c "$1.conf" --db "$1.db" contacts import "$1.csv" > /dev/null
  "$HERALD" -c "$1.conf" --db "$1.db" segment define all 'plan = "gold"' > /dev/null
  "$HERALD" -c "$1.conf" --db "$1.db" campaign create "$1" --segment all --template recall \
    --channels email --now > /dev/null
  "$HERALD" -c "$1.conf" --db "$1.db" campaign pause "$1" > /dev/null
  "$HERALD" -c "$1.conf" --db "$1.db" run --once 2> /dev/null
  sqlite3 -separator ' ' "$1.db" "SELECT id, contact_id FROM messages" \
    | "$ROOT/$B/bench/tokens" "$1.conf" "$(date +%s)"
}

campaign_setup() {
  local name=$1 n=$2 col=$3 fmt=$4 channel=$5 provider=$6
  { conf_head; printf '%s\n[channel %s]\nproviders = p\n' "$provider" "$channel"; } > "$name.conf"
  awk -v n="$n" -v c="$col" -v f="$fmt" 'BEGIN { print "id," c ",first_name,plan"
    for (i = 0; i < n; i++) printf "k%d," f ",Ann,gold\n", i, i }' > "$name.csv"
  H_ARGS=("$HERALD" -c "$name.conf" --db "${BENCH_DB:-$name.db}")
  rm -f "$name".db*
  "${H_ARGS[@]}" init > /dev/null
  "${H_ARGS[@]}" contacts import "$name.csv" > /dev/null
  "${H_ARGS[@]}" segment define all 'plan = "gold"' > /dev/null
  "${H_ARGS[@]}" campaign create "$name" --segment all --template recall --channels "$channel" \
    --now > /dev/null
}

campaign_cleanup() { rm -f "$1".db* "$1.csv" "$1.conf"; }

# outbox_conf CHANNEL...: a configuration with the outbox as provider box,
# never holding a send back (rate, burst, connections), for each CHANNEL
outbox_conf() {
  conf_head
  printf '[provider box]\ntype = outbox\npath = outbox\nrate = 10000000/s\nburst = 100000\nconnections = 256\n'
  for c in "$@"; do printf '[channel %s]\nproviders = box\n' "$c"; done
}

# materialize_vs_sql WHERE HERALD_ARGS...: herald.db's paused campaign 1
# materialized by `herald HERALD_ARGS run --once` against one INSERT ...
# SELECT of the same rows (the contacts WHERE, in id order) in the sqlite3
# CLI on a copy, after a sync each; sets REF and OURS (seconds) and ROWS,
# and fails unless both queued as many.
materialize_vs_sql() {
  local where=$1 t0 t1 n
  shift
  cp herald.db ref.db; sync
  t0=$(now)
  sqlite3 ref.db "INSERT INTO runs (campaign_id, fire_at, status, created_at) VALUES (1, 1795305600, 'active', 1795305600);
INSERT INTO messages (run_id, contact_id, state, not_before, updated_at)
  SELECT 1, id, 0, 1795305600, 1795305600 FROM contacts WHERE $where ORDER BY id;"
  t1=$(now)
  REF=$(secs "$t0" "$t1")
  ROWS=$(sqlite3 ref.db "SELECT count(*) FROM messages")
  rm -f ref.db*; sync
  t0=$(now); "$@" run --once 2> /dev/null; t1=$(now)
  OURS=$(secs "$t0" "$t1")
  n=$(sqlite3 herald.db "SELECT count(*) FROM messages")
  [ "$n" = "$ROWS" ] || { echo "bench: queued $n, sqlite3 $ROWS" >&2; exit 1; }
}

# run_rss HERALD_ARGS...: `herald HERALD_ARGS run --once` under
# /usr/bin/time; sets KB (its peak RSS) and EL (seconds).
run_rss() {
  /usr/bin/time -f "%M %e" -o time.out "$@" run --once 2> run.err
  read -r KB EL < time.out
  rm -f time.out
}

# start_sink: postfix's smtp-sink on SINK_PORT (pid SINK)
start_sink() {
  SINK_PORT=$(free_port)
  smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 256 &
  SINK=$!
  wait_port "$SINK_PORT"
}

# start_nginx: nginx on NGX_PORT (pid NGX) answering every POST with an FCM
# success body and /token with an OAuth token; nginx/sa.json is a service
# account whose token_uri points there
start_nginx() {
  NGX_PORT=$(free_port)
  mkdir -p nginx/logs
  cat > nginx/nginx.conf <<NGINX
worker_processes 1;
daemon off;
pid nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$NGX_PORT;
    default_type application/json;
    location = /token { return 200 '{"access_token":"ya29.bench-token","expires_in":3600,"token_type":"Bearer"}'; }
    location / { return 200 '{"name":"projects/herald-bench/messages/0:1700000000000000%00"}'; }
  }
}
NGINX
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out nginx/sa.key 2> /dev/null
  python3 - "$NGX_PORT" > nginx/sa.json <<'PY'
import json, sys
print(json.dumps({"type": "service_account", "project_id": "herald-bench",
                  "client_email": "bench@herald-bench.iam.gserviceaccount.com",
                  "private_key": open("nginx/sa.key").read(),
                  "token_uri": "http://127.0.0.1:%s/token" % sys.argv[1]}))
PY
  nginx -p "$PWD/nginx" -c "$PWD/nginx/nginx.conf" &
  NGX=$!
  wait_port "$NGX_PORT"
}

# provider sections for the two campaign benches
smtp_provider() {
  printf '[provider p]\ntype = smtp\nhost = 127.0.0.1\nport = %s\nstarttls = none\nfrom = Acme <hello@example.com>\nconnections = 16\nrate = 1000000/s\nburst = 10000\n' "$SINK_PORT"
}
fcm_provider() {
  printf '[provider p]\ntype = fcm\nservice_account_file = nginx/sa.json\nbase_url = http://127.0.0.1:%s\nconnections = 64\nrate = 1000000/s\nburst = 10000\n' "$NGX_PORT"
}

# wrk_rate FILE: the 200s a second of oneclick.lua's line in FILE
wrk_rate() { awk '/^oneclick:/ { printf "%.0f", $3 / $9 }' "$1"; }

# serve_bench ROUTE FILE HERALD_ARGS...: `herald HERALD_ARGS serve` on a
# free port, then wrk against it over 64 connections (bench/oneclick.lua):
# GET /healthz and the POSTs of FILE's lines (each posted once), the same
# wrk settings and Lua calls for both, so only the route differs. The
# machine is shared: ROUNDS (3) short runs of SECS each, interleaved, the
# best of each counts; round r posts its own slice of FILE. A rate is the
# 200s within wrk's own duration over that duration, on both sides: not
# the 200s over SECS, which counted thread 0's answers while wrk was still
# reading thread 1's links, and every answer past SECS until the threads
# saw the stop (oneclick.lua's top; the two made the one-click figure 16%
# to 25% too high). Sets REF (best
# healthz requests/s), OURS (best 200s/s), OK_ALL (200s that reached wrk),
# OUT_ALL (requests made after a slice ran out) and SERVED (what the server
# counted as 200 on ROUTE, its metrics' label, also for requests wrk gave up
# on at its deadline), and stops the server. Also REF_US and OURS_US: the
# service's CPU a request on each route, all its threads' run time over a
# run (/proc's schedstat) divided by the answers wrk saw, the least of the
# rounds: what the ratio is made of, which moves less with the machine's
# load than the ratio does.
serve_bench() {
  local route=$1 file=$2 r h o ok ran_out srv port c0 c1 c2
  shift 2
  "$HERALD" "$@" serve --listen 127.0.0.1:0 > serve.out 2> serve.err &
  srv=$!
  trap "kill $srv 2>/dev/null || true" EXIT
  for r in $(seq 50); do grep -q listening serve.out && break; sleep 0.1; done
  port=$(sed -n 's/^listening on http:\/\/127.0.0.1:\([0-9]*\)$/\1/p' serve.out)
  [ -n "$port" ] || { echo "bench: herald serve did not start: $(cat serve.err)" >&2; exit 1; }
  local wrk=(env WRK_THREADS=2 wrk -t2 -c64 -d"${SECS}s" -s "$ROOT/bench/oneclick.lua")
  split -n "l/$ROUNDS" -d "$file" slice.
  # the service's CPU so far: every thread's run time, in ns
  svc_ns() { cat /proc/"$srv"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }
  # us_per FROM TO FILE: µs of it a request wrk saw answered in FILE
  us_per() { awk -v a="$1" -v b="$2" '/^oneclick:/ { printf "%.1f", (b - a) / 1000 / ($3 + $5 + $7) }' "$3"; }
  least() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }
  REF=0; OURS=0; OK_ALL=0; OUT_ALL=0; REF_US=""; OURS_US=""
  for r in $(seq 0 $((ROUNDS - 1))); do
    c0=$(svc_ns)
    "${wrk[@]}" "http://127.0.0.1:$port/" > healthz.out
    c1=$(svc_ns)
    rm -f "slice.0$r.ready"
    TOKENS=slice.0$r "${wrk[@]}" "http://127.0.0.1:$port/" > posts.out
    c2=$(svc_ns)
    h=$(wrk_rate healthz.out)
    o=$(wrk_rate posts.out) # 200s only
    read -r ok ran_out early < <(awk '/^oneclick:/ { print $3, $5, $7 }' posts.out)
    [ "$h" -gt "$REF" ] && REF=$h
    [ "$o" -gt "$OURS" ] && OURS=$o
    REF_US=$(least "$REF_US" "$(us_per "$c0" "$c1" healthz.out)")
    OURS_US=$(least "$OURS_US" "$(us_per "$c1" "$c2" posts.out)")
    OK_ALL=$((OK_ALL + ok + early)); OUT_ALL=$((OUT_ALL + ran_out))
  done
  # the server's counter, once two reads agree (the last batch is written)
  scrape() { curl -s "http://127.0.0.1:$port/metrics" \
    | awk -v r="$route" '$1 == "herald_http_requests_total{route=\"" r "\",code=\"200\"}" { print $2 }'; }
  SERVED=$(scrape); sleep 0.2
  while [ "$SERVED" != "$(scrape)" ]; do SERVED=$(scrape); sleep 0.2; done
  kill $srv; wait $srv || { echo "bench: herald serve did not stop cleanly" >&2; exit 1; }
  trap - EXIT
  rm -f slice.*
}
