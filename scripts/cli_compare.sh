#!/usr/bin/env bash
# cli_compare.sh OLD NEW: runs the same command lines (help, bad options and
# values, and a session from import to send, history, why, stats and
# events) with two herald binaries, each in a fresh folder, and diffs what
# they printed (stdout, stderr, exit status), with times, rates, ids and
# latencies masked. Exit 0 when the outputs are the same. Used to check that
# a refactor of the command line left its behaviour byte for byte.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# = 2 ] || { echo "usage: $0 OLD_HERALD NEW_HERALD" >&2; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

session() {
H=$1; OUT=$2
D=$(mktemp -d "$WORK/w.XXXXXX"); cd "$D" || exit 1
export HERALD_CONFIG="$ROOT/etc/herald.conf" HERALD_NOW=2026-11-22T09:00:00Z
cp -r "$ROOT/templates" templates
printf 'category: marketing\n\n--- email.subject\nHi {{nope}}\n--- email.html\n<p>{{also_missing}}</p>\n--- sms\n{{first_name}} \xe2\x82\xac {{x}}\n--- push.title\nT {{first_name}}\n--- push.body\n{{y}}\n--- push.fcm\n{"android": {"priority": "{{z}}"}}\n--- push.apns\n{"aps": {"sound": "default"}}\n' > templates/bad.tmpl
printf 'category: transactional\n\n--- email.subject\nA\tB {{first_name}}\n--- email.html\n<p>Hi {{first_name}}</p>\n--- sms\n%s\n' "$(printf 'long text %.0s' $(seq 1 30))" > templates/ok2.tmpl
: >"$OUT"
r() { { printf '### herald'; printf ' [%s]' "$@"; printf '\n'; timeout 30 "$H" "$@" 2>"$D/err"; echo "--- rc=$?"; echo "--- stderr:"; cat "$D/err"; } >>"$OUT" 2>&1; }
r init
r contacts import "$ROOT/examples/contacts.csv" --default-region CN
r contacts import "$ROOT/examples/contacts-with-errors.csv"
r segment define churned 'days_since(last_active) > 30'
r segment define recall_gold 'in_segment("churned") and plan in ("gold", "platinum") and reachable(email)'
r campaign create recall-nov --segment churned --template recall --channels email,push,sms --variants a=50,b=50 --holdout 10 --expires 2d --now
r campaign create renew --segment churned --template renewal --channels sms,email --local-time 10:00 --on 2026-12-01
r campaign estimate recall-nov
r campaign estimate renew
r template preview recall --contact c0002 --channel sms
r template preview recall --contact c0001 --variant b --channel email
r template preview renewal --contact c0001 --channel sms
r template preview renewal --contact c0003
r template preview recall --contact c0002 --channel push
r template preview recall --channel email
r template preview recall --contact nobody --channel sms
r template preview nosuch --contact c0001 --channel sms
r template render recall --channel email --data '{"first_name":"A"}'
r template render recall --channel sms
r template lint
echo '{"first_name":"Zoé","locale":"zh-CN","timezone":"Asia/Shanghai"}' > d1.json
echo '{}' > d2.json
echo '[1]' > d3.json
echo '{bad' > d4.json
for t in recall renewal promotion bad ok2; do
  r template preview $t --contact c0001; r template preview $t --contact c0002 --json
  r template preview $t --data d1.json; r template preview $t --data d2.json; r template preview $t --data d2.json --json
  r template preview $t --data d1.json --locale en --variant b --channel push --json
  r template preview $t --contact c0003 --variant a --channel email
done
r template preview recall --data d3.json; r template preview recall --data d4.json; r template preview recall --data nofile.json
r template preview recall --data d1.json --contact c0001
printf 'Hi {{first_name}} {{>p}} {{&x}}' > t.mustache; mkdir -p parts; echo 'P{{x}}' > parts/p.mustache
r template render t.mustache --data d1.json --partials parts; r template render t.mustache --strict --data d2.json
r template render t.mustache --escape none --data d1.json; r template render - --data d1.json
r template list --format json; r template list --format jsonl; r template list --format csv
r template list
r provider list
r send recall-nov
r history c0002
r history c0002 --format csv
r history c0002 --format jsonl
r campaign create recall-2 --segment churned --template recall --channels sms,email --now
r campaign estimate recall-2
r send recall-2
for k in $("$H" segment export churned | sed -n '2,40p' | cut -d, -f1); do r why $k recall-nov; r why $k recall-2; r history $k; r template preview recall --contact $k --channel sms; r template preview renewal --contact $k --channel email; done
for k in c0001 c0002 c0003 c0004 c0005 c0010 c0020; do r why $k recall-nov; r why $k renew; done
printf 'contact,event,time,value\nc0006,purchase,2026-11-23T10:00:00Z,12.5\nc0008,purchase,1795500000,\nnobody,purchase,2026-11-23T10:00:00Z,1\nc0009,purchase,2026-11-23T11:00:00Z,3\n' > ev.csv
printf '{"contact":"c0011","event":"purchase","time":"2026-11-23T10:00:00Z","value":2}\n\n{"id":"c0006","name":"purchase","at":1795500001}\n{"contact":"ghost","event":"purchase","time":"2026-11-23T10:00:00Z"}\n' > ev.jsonl
printf 'contact,event,time\nc0006,purchase,yesterday\n' > ev-bad.csv
printf 'who,event,time\n' > ev-bad2.csv
printf '{"contact":"c0006","event":"purchase","time":"2026-11-23T10:00:00Z","value":"x"}\n[1]\n' > ev-bad.jsonl
: > ev-empty.csv
r events import ev.csv; r events import ev.csv; r events import ev.jsonl; r events import ev.jsonl --format csv
r events import ev-bad.csv; r events import ev-bad2.csv; r events import ev-bad.jsonl; r events import ev-empty.csv
r events import - --format jsonl < ev.jsonl
r stats recall-nov --goal purchase; r stats recall-nov --goal purchase --format json; r stats recall-nov --goal purchase --format csv --window 2d
r stats recall-nov
r stats recall-nov --format json
r log --limit 5
r campaign show recall-nov
r campaign pause renew; r campaign pause renew; r campaign show renew; r campaign resume renew; r campaign resume renew
r campaign pause recall-2; r send recall-2; r campaign resume recall-2; r campaign show recall-2; r send recall-2 --wait 1s; r send recall-nov; r send recall-nov
r campaign cancel renew; r campaign pause renew; r campaign resume renew; r campaign cancel renew
r campaign cancel recall-nov; r campaign pause recall-nov; r campaign cancel nosuch; r campaign pause; r campaign resume a b
r campaign list
r contacts delete c0004
r why deleted-4 recall-nov
r why c0004 recall-nov
# help and errors for every command and subcommand
cmds="init config contacts suppress provider segment template campaign run send log history why stats events"
r; r --help; r -h; r help; r --version; r --bogus; r nosuch
for c in $cmds; do r $c --help; r help $c; r $c -h; r $c --bogus; r $c --bogus=1; r $c -x; [ $c = run ] || r $c; r $c extra arg; done
subs="contacts:import,show,list,optout,optin,delete suppress:add,remove,list provider:list,test segment:define,list,show,count,sample,export,delete template:list,lint,preview,render campaign:create,list,show,estimate,pause,resume,cancel events:import log:prune config:check"
for cs in $subs; do c=${cs%%:*}; for s in ${cs#*:}; do s=${s//,/ }; for ss in $s; do
  r $c $ss --help; r $c $ss -h; r $c $ss --bogus; r $c $ss --bogus=x; r $c $ss -z; r $c $ss; r $c $ss a b c d
  r $c $ss --format; r $c $ss --format xml; r $c $ss --limit -3; r $c $ss -n 0; r $c $ss --channel fax; r $c $ss --f=csv; r $c $ss --s x
done; done; done
r campaign create x --segment churned --template recall --channels email --at nope
r campaign create v1 --segment churned --template recall --channels email,sms --variants a=50,c=50 --now
r campaign create v2 --segment churned --template recall --channels email --variants a=50,b=60 --now
r campaign create v3 --segment nosuch --template recall --channels email --now
r campaign create v4 --segment churned --template nosuch --channels email --now
r campaign create v5 --segment churned --template ok2 --channels push --now
r campaign create v6 --segment churned --template ok2 --channels sms,email --every '0 9 * * 1' --category marketing
r campaign create v7 --segment churned --template ok2 --channels sms --at 2027-01-01T10:00:00+01:00 --resend-after 3d --rate 5/s --fallback-on-failure
r campaign create v8 --segment churned --template recall --channels email --every '0 9 31 2 *'
r campaign create v6 --segment churned --template ok2 --channels sms --now
r campaign list; r campaign list --json; r campaign show v7 --format json
r campaign create x --seg churned --temp recall --chan email,email --now
r campaign create x --segment churned --template recall --channels email --now --tz Mars/X
r campaign create x --segment churned --template recall --channels email --every '0 9 * * *' --tz Europe/Paris --holdout 100
r campaign create x --segment churned --template recall --channels email --now --expires 3q --resend-after 1x
r campaign create x --segment churned --template recall --channels email --now --rate fast
r campaign create x --segment churned --template recall --channels email --local-time 25:00
r campaign create x --segment churned --template recall --channels email --now --category spam
r run --grace nope; r run --once extra; r send --wait 1y1; r send --grace; r send --once recall-nov; r run --wait 5m
r send --w 5m x; r run --g nope; r run --o --bogus
r stats recall-nov --by nope; r stats recall-nov --goal ''; r stats recall-nov --window 0; r stats recall-nov --format jsonl
r log --since nope; r log --outcome x; r log --format json; r log prune --older-than x
r log --run 1 --campaign recall-2; r log --run 99; r log --run 2 --campaign recall-2 --limit 2 --format csv --oldest-first
r log --contact c0006 --limit 3 --format jsonl; r log --contact nobody; r log --campaign nosuch; r log --run x
r log --outcome skipped --reason capped --limit 3; r log --channel sms --provider outbox --since 2026-11-01 --until 1d --limit 2
r contacts import x --default-region ZZ; r contacts import x --max-errors 0
r contacts list --limit x; r contacts list -n x; r contacts list --format jsonl
r segment count --expr 'x >'; r segment sample churned -n 0; r segment count churned -n 3; r segment export churned --format json
r suppress add a@b.c --reason 'bad reason'; r suppress list --format xml; r suppress add x --channel fax
r template preview recall --contact c0001 --channel fax; r template preview recall --contact c0001 --locale xx --channel sms
r template render recall --channel sms --data '{bad'; r template render recall --channel sms --data-file /nonexistent
r provider test nosuch; r provider test --to x; r provider test nosuch --to x
r provider test outbox --to user@example.com; r provider test outbox --to +14155550100; r provider test outbox --to tok123 --channel push
r provider test outbox --to 'bad@' ; r provider test outbox --to 12 --channel sms
r provider test outbox --to user@example.com --template recall; r provider test outbox --to user@example.com --template recall --contact c0002 --variant b
r provider test outbox --to +14155550100 --template bad --contact c0002; r provider test outbox --to +14155550100 --template recall --contact nobody
r provider test outbox --to +14155550100 --template nosuch
r events import --format xml x; r events import /nonexistent
cd "$WORK"
}

norm() {
sed -E 's/\(?[0-9]+ rows\/s\)?/N rows\/s/; s/in [0-9.]+s/in Ns/; s/^latency +[0-9]+ ms/latency N ms/; s/(latency_p[0-9]+_ms"?:?).*/\1 N/; s/[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z/TIME/g; s/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.[0-9]+)?/UUID/g; s/"(done_at|at)": ?"[^"]*"/"\1":T/g; s/^\{"id":[0-9]+/{"id":N/; s/"latency_ms":[0-9]+/"latency_ms":N/g' "$1" | grep -v 'TTIME recall-'
}

session "$OLD" "$WORK/old.out" </dev/null
session "$NEW" "$WORK/new.out" </dev/null
echo "$(grep -c '^### ' "$WORK/old.out") command lines"
diff <(norm "$WORK/old.out") <(norm "$WORK/new.out") && echo "cli_compare: same output"
