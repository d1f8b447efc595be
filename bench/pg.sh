#!/usr/bin/env bash
# PostgreSQL as the store (issue 23; make bench runs it after run.sh; it also
# runs alone: bash bench/pg.sh [build]). A throwaway PostgreSQL 15
# (tests/pgserver.sh: a Unix socket in a temporary folder, default settings,
# fsync on) serves every part; the trap stops it and removes its folder
# however the script ends. Sizes: BENCH_PG_PUSHES (default 50,000) and
# BENCH_PG_MESSAGES (default 1,000,000); BENCH_PG_ROUNDS (2) rounds of the
# push and the materialization parts.
#
#   push    the same push campaign (bench/lib.sh's campaign_setup: the
#           recall template, FCM through nginx answering like FCM) sent by
#           `herald send` on SQLite, on PostgreSQL, and by two `herald send`
#           nodes started at once on one PostgreSQL store (each a node, as a
#           `herald run` is: they share the campaign through FOR UPDATE SKIP
#           LOCKED claims; on this 2-core machine they share the cores with
#           the server and nginx, so the figure is the pair's total).
#           messages/s each (the three must send as many; the messages
#           accepted twice by the two nodes are counted), and herald's and
#           the server's CPU, commits and WAL a message. Target: PostgreSQL
#           at least 0.6x SQLite.
#   materialize  a paused push campaign over BENCH_PG_MESSAGES contacts
#           materialized by `herald run --once` on PostgreSQL, against one
#           hand-written INSERT ... SELECT of the same rows in psql, on a
#           copy of the same database (CREATE DATABASE ... TEMPLATE), best
#           of BENCH_PG_ROUNDS each, each side on a fresh copy. The
#           contacts reach PostgreSQL by herald contacts import into SQLite
#           and psql's \copy of its rows (setup, not measured: PostgreSQL's
#           import goes a row at a time). Target: at most 1.5x.
#   claim   the claim's three statements (pick and lock the due messages,
#           lock their contacts, read them with their facts), their text
#           as herald sent it to the server (log_statement = all on a
#           small database of their own, read back from the server's log,
#           so nothing here rewrites herald's SQL), each run under EXPLAIN
#           (ANALYZE, BUFFERS) on the materialized queue for one batch of
#           the dispatcher's size (512): buffers and milliseconds a message.
#   server  the commits a second this server sustains (pgbench: one-row
#           INSERT transactions from 1 and from 8 clients, 5 s each), the
#           ceiling herald's commits meet on this disk (README's "Speed and
#           scale" does the arithmetic).
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERALD=$ROOT/$B/herald
GEN=$ROOT/$B/bench/gen_contacts
P=${BENCH_PG_PUSHES:-50000}
M=${BENCH_PG_MESSAGES:-1000000}
ROUNDS=${BENCH_PG_ROUNDS:-2}
BATCH=512
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OUT=$ROOT/bench/out/pg
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
. "$ROOT/bench/lib.sh"

PGDIR=$(mktemp -d)
NGX=""
cleanup() {
  [ -n "$NGX" ] && kill "$NGX" 2> /dev/null || true
  sh "$ROOT/tests/pgserver.sh" stop "$PGDIR"
}
trap cleanup EXIT
BASE=$(sh "$ROOT/tests/pgserver.sh" start "$PGDIR")
# pg_uri NAME: the connection string of database NAME on the server
pg_uri() { echo "${BASE/\/postgres\?/\/$1?}"; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$BASE" -c "$1"; }
# pg_new NAME [TEMPLATE]: a fresh database NAME (a copy of TEMPLATE)
pg_new() { q "CREATE DATABASE $1${2:+ TEMPLATE $2}"; }
pg1() { psql -X -At -v ON_ERROR_STOP=1 "$(pg_uri "$1")" -c "$2"; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
echo "== PostgreSQL: $(q 'SHOW server_version'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# server_now: the server's CPU seconds so far (its exited processes', the
# backends of herald's connections among them, which the postmaster reaps),
# its commits, and its WAL position in bytes
server_now() {
  local pm ticks
  pm=$(head -1 "$PGDIR/data/postmaster.pid")
  ticks=$(awk '{ print $16 + $17 }' "/proc/$pm/stat")
  echo "$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')" \
    "$(q "SELECT sum(xact_commit) FROM pg_stat_database") $(q "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")"
}
# send_nodes NAME DB NODES: NODES `herald send NAME` at once on DB (the
# campaign's configuration NAME.conf); prints messages/s, messages sent,
# herald's CPU seconds (all nodes) and on PostgreSQL the server's CPU
# seconds, commits and WAL bytes over the send (0 on SQLite)
send_nodes() {
  local name=$1 db=$2 nodes=$3 t0 t1 pids=() i sent s0=(0 0 0) s1=(0 0 0) pg=""
  [ "${db#postgresql:}" != "$db" ] && pg=1
  [ -n "$pg" ] && read -ra s0 < <(server_now)
  t0=$(now)
  for i in $(seq "$nodes"); do
    /usr/bin/time -f "%U %S" -o "time$i.out" \
      "$HERALD" -c "$name.conf" --db "$db" send "$name" > "send$i.out" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || { echo "bench: herald send failed" >&2; cat send*.out >&2; exit 1; }; done
  t1=$(now)
  if [ -n "$pg" ]; then
    sleep 1 # the backends' statistics reach pg_stat_database as they exit
    read -ra s1 < <(server_now)
    sent=$(psql -X -At "$db" -c "SELECT count(*) FROM messages WHERE state = 2")
  else
    sent=$(sqlite3 "$db" "SELECT count(*) FROM messages WHERE state = 2")
  fi
  echo "$(rate "$sent" "$t0" "$t1") $sent $(cat time*.out | awk '{ s += $1 + $2 } END { printf "%.2f", s }')" \
    "$(awk -v a="${s0[0]}" -v b="${s1[0]}" 'BEGIN { printf "%.2f", b - a }') $((s1[1] - s0[1])) $((s1[2] - s0[2]))"
  rm -f time*.out
}

echo "== push: a $P-message campaign through herald send, FCM to nginx"
start_nginx
# the same contacts and campaign on both: set up on SQLite, and on
# PostgreSQL once (pushsetup), copied for each run
campaign_setup push "$P" fcm_token "fcm%012d:APA91bbench" push "$(fcm_provider)"
cp push.db keep.sqlite
pg_new pushsetup
BENCH_DB=$(pg_uri pushsetup) campaign_setup push "$P" fcm_token "fcm%012d:APA91bbench" push "$(fcm_provider)"
# ROUNDS rounds, the three interleaved, each on a fresh copy; the best counts
lite=0; one=0; two=0
for r in $(seq "$ROUNDS"); do
  cp keep.sqlite push.db
  read -r x lite_n lite_cpu _ < <(send_nodes push push.db 1)
  [ "$x" -gt "$lite" ] && lite=$x
  pg_new "push1_$r" pushsetup
  read -r x one_n x_cpu x_srv x_xact x_wal < <(send_nodes push "$(pg_uri "push1_$r")" 1)
  if [ "$x" -gt "$one" ]; then one=$x; one_cpu=$x_cpu; one_srv=$x_srv; one_xact=$x_xact; one_wal=$x_wal; fi
  pg_new "push2_$r" pushsetup
  read -r x two_n x_cpu x_srv x_xact x_wal < <(send_nodes push "$(pg_uri "push2_$r")" 2)
  if [ "$x" -gt "$two" ]; then two=$x; two_cpu=$x_cpu; two_srv=$x_srv; two_xact=$x_xact; two_wal=$x_wal; fi
  [ "$lite_n" = "$one_n" ] && [ "$one_n" = "$two_n" ] ||
    { echo "bench: sent $lite_n on SQLite, $one_n and $two_n on PostgreSQL" >&2; exit 1; }
done
kill "$NGX"; NGX=""
dup=$(pg1 push2_1 "SELECT count(*) FROM (SELECT message_id FROM attempts WHERE outcome = 'accepted' GROUP BY message_id HAVING count(*) > 1) d")
nodes=$(pg1 push2_1 "SELECT count(*) FROM nodes")
echo "   best of $ROUNDS rounds, the three interleaved:"
echo "   SQLite, one node:            $lite messages/s ($lite_n sent)"
echo "   PostgreSQL, one node:        $one messages/s ($one_n sent)"
echo "   PostgreSQL, two nodes (sum): $two messages/s ($two_n sent by $nodes nodes, $dup twice in round 1)"
awk -v a="$one" -v b="$lite" 'BEGIN { printf "   ratio PostgreSQL / SQLite: %.2fx (target: at least 0.6x)\n", a / b }'
awk -v a="$two" -v b="$one" 'BEGIN { printf "   ratio two nodes / one: %.2fx (one machine: the nodes share its 2 cores)\n", a / b }'
# per_msg LABEL N HERALD_CPU SERVER_CPU COMMITS WAL: the costs a message
per_msg() {
  awk -v l="$1" -v n="$2" -v h="$3" -v s="$4" -v x="$5" -v w="$6" 'BEGIN {
    printf "   a message, %s: herald %.0f us CPU, server %.0f us CPU, %.4f commits, %.0f WAL bytes\n",
      l, 1e6 * h / n, 1e6 * s / n, x / n, w / n }'
}
per_msg "SQLite (best round)" "$lite_n" "$lite_cpu" 0 0 0
per_msg "PostgreSQL, one node" "$one_n" "$one_cpu" "$one_srv" "$one_xact" "$one_wal"
per_msg "PostgreSQL, two nodes" "$two_n" "$two_cpu" "$two_srv" "$two_xact" "$two_wal"
campaign_cleanup push
rm -f keep.sqlite
for d in $(q "SELECT datname FROM pg_database WHERE datname LIKE 'push%'"); do q "DROP DATABASE $d"; done

echo "== materialize: a push campaign over $M contacts"
export HERALD_NOW=2026-11-22T00:00:00Z
NOW=1795305600
{ conf_head; printf '[provider box]\ntype = outbox\npath = outbox\n[channel push]\nproviders = box\n'; } > mat.conf
"$GEN" "$M" > contacts.csv
"$HERALD" -c mat.conf --db mat.db init > /dev/null
"$HERALD" -c mat.conf --db mat.db contacts import contacts.csv --default-region US > /dev/null
rm -f contacts.csv
pg_new mat
MAT=$(pg_uri mat)
"$HERALD" -c mat.conf --db "$MAT" init > /dev/null
# copy_rows TABLE COLUMNS: the SQLite rows into PostgreSQL by psql's \copy
copy_rows() {
  sqlite3 -csv mat.db "SELECT $2 FROM $1" |
    psql -X -q -v ON_ERROR_STOP=1 "$MAT" -c "\\copy $1 ($2) FROM STDIN WITH (FORMAT csv)"
}
copy_rows contacts "id, ext_id, email, phone, locale, timezone, attrs, created_at, updated_at"
copy_rows push_tokens "contact_id, platform, token, updated_at"
psql -X -q -At "$MAT" > /dev/null <<'SQL'
SELECT setval(pg_get_serial_sequence('contacts', 'id'), (SELECT max(id) FROM contacts));
VACUUM ANALYZE contacts;
VACUUM ANALYZE push_tokens;
SQL
rm -f mat.db*
H() { "$HERALD" -c mat.conf --db "$MAT" "$@"; }
H segment define all 'lifetime_spend >= 0' > /dev/null
H campaign create mat --segment all --template recall --channels push --now > /dev/null
H campaign pause mat > /dev/null
# ROUNDS rounds, each side on a fresh copy of the paused campaign's
# database after a sync; the best counts. The last round's queue stays
# (mat) for the claim.
q "ALTER DATABASE mat RENAME TO matsetup"
ref=""; ours=""
for r in $(seq "$ROUNDS"); do
  pg_new matref matsetup
  sync
  # the reference: the same rows queued by one INSERT ... SELECT in psql
  t0=$(now)
  pg1 matref "INSERT INTO runs (campaign_id, fire_at, status, created_at) VALUES (1, $NOW, 'active', $NOW);
INSERT INTO messages (run_id, contact_id, state, not_before, updated_at)
  SELECT 1, id, 0, $NOW, $NOW FROM contacts WHERE CAST(attrs_j #>> '{lifetime_spend}' AS numeric) >= 0 ORDER BY id;" > /dev/null
  t1=$(now)
  t=$(secs "$t0" "$t1"); ref=$([ -z "$ref" ] && echo "$t" || best "$ref" "$t")
  ref_n=$(pg1 matref "SELECT count(*) FROM messages")
  q "DROP DATABASE matref"
  if [ "$r" -gt 1 ]; then q "DROP DATABASE mat"; fi
  pg_new mat matsetup
  sync
  # herald: a paused campaign's firing is materialized by run --once, and not sent
  t0=$(now); H run --once 2> /dev/null; t1=$(now)
  t=$(secs "$t0" "$t1"); ours=$([ -z "$ours" ] && echo "$t" || best "$ours" "$t")
  ours_n=$(pg1 mat "SELECT count(*) FROM messages")
  [ "$ref_n" = "$ours_n" ] || { echo "bench: queued $ours_n, psql $ref_n" >&2; exit 1; }
done
q "DROP DATABASE matsetup"
echo "   best of $ROUNDS rounds each, on fresh copies:"
echo "   psql INSERT ... SELECT:  ${ref}s ($ref_n rows)"
echo "   herald run --once:       ${ours}s ($ours_n rows: batches, holdout and variant hashing, resumable)"
awk -v a="$ours" -v b="$ref" 'BEGIN { printf "   ratio herald / psql: %.2fx (target: at most 1.5x)\n", a / b }'
unset HERALD_NOW

echo "== claim: the claim's statements on the $M-message queue, a batch of $BATCH"
# their text as herald sends it: a small push campaign on a database that
# logs every statement
pg_new cap
CAP=$(pg_uri cap)
q "ALTER DATABASE cap SET log_statement = 'all'"
awk 'BEGIN { print "id,fcm_token,first_name,plan"; for (i = 0; i < 20; i++) printf "k%d,fcm%d:APA91b,Ann,gold\n", i, i }' > cap.csv
"$HERALD" -c mat.conf --db "$CAP" init > /dev/null
"$HERALD" -c mat.conf --db "$CAP" contacts import cap.csv > /dev/null
"$HERALD" -c mat.conf --db "$CAP" segment define all 'plan = "gold"' > /dev/null
"$HERALD" -c mat.conf --db "$CAP" campaign create cap --segment all --template recall --channels push --now > /dev/null
"$HERALD" -c mat.conf --db "$CAP" send cap > /dev/null 2>&1
# stmt PATTERN: the first logged statement holding PATTERN (fixed string)
stmt() {
  grep -F -- "$1" "$PGDIR/server.log" | grep -m1 -o 'LOG:  execute [^:]*: .*' | sed 's/^LOG:  execute [^:]*: //'
}
PICK=$(stmt 'FOR UPDATE OF m SKIP LOCKED')
LOCK=$(stmt 'pg_advisory_xact_lock(1752329315')
FACTS=$(stmt 'FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id')
[ -n "$PICK" ] && [ -n "$LOCK" ] && [ -n "$FACTS" ] ||
  { echo "bench: the claim's statements are not in the server's log" >&2; exit 1; }
q "DROP DATABASE cap"
# the statistics autovacuum would have gathered after the materialization
pg1 mat "ANALYZE messages" > /dev/null
RUN=$(pg1 mat "SELECT id FROM runs")
LATER=$((NOW + 86400))
HORIZON=$((NOW - 30 * 86400))
# the batch a claim would pick (read, its locks let go)
ids=$(psql -X -q -At "$MAT" -c "BEGIN" -c "PREPARE pick AS $PICK" -c "EXECUTE pick($RUN, $LATER, $BATCH)" -c "ROLLBACK")
IDS="{$(echo "$ids" | cut -d'|' -f1 | paste -sd,)}"
CONTACTS="{$(echo "$ids" | cut -d'|' -f2 | paste -sd,)}"
# explain: each statement once to warm the cache, then under EXPLAIN
psql -X -v ON_ERROR_STOP=1 "$MAT" > explain.out <<SQL
BEGIN;
PREPARE pick AS $PICK;
PREPARE lock AS $LOCK;
PREPARE facts AS $FACTS;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE pick($RUN, $LATER, $BATCH);
EXPLAIN (ANALYZE, BUFFERS) EXECUTE lock('$CONTACTS');
EXPLAIN (ANALYZE, BUFFERS) EXECUTE facts('$IDS', 'marketing', $HORIZON);
ROLLBACK;
BEGIN;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE pick($RUN, $LATER, $BATCH);
EXPLAIN (ANALYZE, BUFFERS) EXECUTE lock('$CONTACTS');
EXPLAIN (ANALYZE, BUFFERS) EXECUTE facts('$IDS', 'marketing', $HORIZON);
ROLLBACK;
SQL
# the second round's three plans: each plan's first Buffers line (its top
# node's, which counts its children's; none when it touched no page) and
# its Execution Time
awk -v batch="$BATCH" '
  /QUERY PLAN/ { plan++; top = 1; hit = 0; rd = 0; next }
  plan > 3 && top && /Buffers:/ {
    if (match($0, /hit=[0-9]+/)) hit = substr($0, RSTART + 4, RLENGTH - 4)
    if (match($0, /read=[0-9]+/)) rd = substr($0, RSTART + 5, RLENGTH - 5)
    top = 0 }
  plan > 3 && /Execution Time:/ { ms = $3; name = (plan == 4 ? "pick" : plan == 5 ? "lock" : "facts")
    printf "   %-6s %8.3f ms  %7d buffers (%d read)  %.4f ms and %.1f buffers a message\n", name, ms, hit + rd, rd, ms / batch, (hit + rd) / batch
    tms += ms; tb += hit + rd }
  END { printf "   claim  %8.3f ms  %7d buffers          %.4f ms and %.1f buffers a message\n", tms, tb, tms / batch, tb / batch }
' explain.out
n=$(echo "$ids" | grep -c .)
echo "   ($n messages picked of $(pg1 mat "SELECT count(*) FROM messages WHERE state = 0") due; plans in bench/out/pg/explain.out)"

echo "== server: the commits a second this server sustains (pgbench, one-row INSERT transactions)"
# the ceiling a store's commits meet on this machine's disk and cores: 8
# clients, each committing a one-row INSERT, for 5 s (fsync on, as herald's)
pg_new commits
pg1 commits "CREATE TABLE t (x int)" > /dev/null
echo 'INSERT INTO t VALUES (1);' > commit.sql
for c in 1 8; do
  tps=$("$PGBIN/pgbench" -n -c "$c" -j "$((c < 2 ? 1 : 2))" -T 5 -f commit.sql "$(pg_uri commits)" 2> /dev/null |
    awk '/^tps/ { printf "%.0f", $3 }')
  echo "   $c client(s): $tps commits/s"
done
q "DROP DATABASE commits"
