#!/usr/bin/env bash
# make demo: everything herald does, end to end, on the embedded
# defaults (SQLite, the outbox provider), in a fresh folder demo/, with the
# example configuration (etc/herald.conf) and the shipped templates.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
H=$ROOT/${1:-build/herald}
[ "${H#/}" != "$H" ] || H=$ROOT/$H
cd "$ROOT"
rm -rf demo && mkdir demo && cd demo
export HERALD_CONFIG="$ROOT/etc/herald.conf"
# the sample contacts are dated around this day; fixing "now" keeps the
# segment counts meaningful whenever the demo runs
export HERALD_NOW=2026-11-22T09:00:00Z
ln -s "$ROOT/templates" templates
# bold headings only on a terminal, and never with NO_COLOR set
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
run() {
  printf '$ herald'
  for a in "$@"; do case "$a" in *[\ \"\(\)\<\>]*) printf " '%s'" "$a" ;; *) printf ' %s' "$a" ;; esac; done
  printf '\n'
  "$H" "$@"
}

step "create the database"
run init

step "the effective configuration (etc/herald.conf: the outbox serves every channel)"
run config check 2>&1 | sed -n '1,12p'
echo "   ..."

step "import 500 contacts (national Chinese numbers are read with --default-region CN)"
run contacts import "$ROOT/examples/contacts.csv" --default-region CN

step "a file with mistakes is refused whole, every bad row named"
run contacts import "$ROOT/examples/contacts-with-errors.csv" || echo "(exit status $?: nothing was written)"

step "... or imported without its bad rows, which go to a rejects file"
cp "$ROOT/examples/contacts-with-errors.csv" .
run contacts import contacts-with-errors.csv --skip-invalid
cat contacts-with-errors.csv.rejected.csv

step "contacts"
run contacts list --limit 5
run contacts show c0002

step "consent and suppression"
run contacts optout c0002 --channel sms --category marketing
run suppress add abigail.1@example.com --reason unsubscribed
run suppress add "+44 7700 900684" --reason invalid_number
run suppress list

step "lifecycle segments, written in the rule language"
run segment define new_users 'created_at > now - 30d'
run segment define active 'days_since(last_active) < 7'
run segment define declining 'days_since(last_active) between 14 and 30'
run segment define churned 'days_since(last_active) > 30'
run segment define churn_warning 'days_since(last_active) = 7'
run segment define renew_expired 'days_until(membership_expires) between -90 and -1'
run segment define renew_soon 'days_until(membership_expires) between 0 and 90'
run segment define renew_later 'days_until(membership_expires) > 90'
run segment define recall_gold 'in_segment("churned") and plan in ("gold", "platinum") and reachable(email)'
run segment sample recall_gold -n 3
run segment define oops 'days_since(last_active) >= ' || echo "(exit status $?: rejected with the column)"

step "templates: list them, and lint every file, variant and partial"
run template list
run template lint

step "preview the recall campaign for a Chinese contact (SMS) and an English one (email)"
run template preview recall --contact c0002 --channel sms
run template preview recall --contact c0001 --variant b --channel email | sed -n '1,20p'
echo "   ..."
run template preview renewal --contact c0001 --channel sms

step "schedule a recall campaign: A/B subject lines, a 10% holdout, email then push then SMS"
run campaign create recall-nov --segment churned --template recall --channels email,push,sms \
  --variants a=50,b=50 --holdout 10 --expires 2d --now
run campaign estimate recall-nov

step "dispatch it through the outbox (quiet hours hold back those for whom it is night)"
run send recall-nov
ls var/outbox

step "the campaign's stats: per variant and per state"
run campaign show recall-nov

step "its delivery log, newest first: every attempt and every decision, with its reason"
run log --campaign recall-nov --limit 8
run log --campaign recall-nov --outcome skipped --limit 4

step "why did two contacts get it, or not? (one sent, one held out)"
run why "$("$H" log --campaign recall-nov --outcome accepted --limit 1 --format csv | sed -n '2p' | cut -d, -f5)" recall-nov
run why "$("$H" log --campaign recall-nov --reason held_out --limit 1 --format csv | sed -n '2p' | cut -d, -f5)" recall-nov

step "did it work? purchases in the week after, per variant against the holdout"
# a made-up outcome: every fourth contact bought, every third in variant b
"$H" log --campaign recall-nov --format csv --oldest-first | awk -F, 'NR > 1 && !seen[$5]++ {
  n++; if (n % 4 == 0 || ($7 == "b" && n % 3 == 0)) print $5 ",purchase,2026-11-24T10:00:00Z,49.90" }' |
  { echo "contact,event,time,value"; cat; } > var/events.csv
run events import var/events.csv
run stats recall-nov --goal purchase --window 7d

step "done: the database is demo/var/herald.db, what was sent is in demo/var/outbox"
