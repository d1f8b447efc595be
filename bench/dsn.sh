#!/usr/bin/env bash
# dsn.sh: make bench's DSN part (issue 19; run.sh runs it; alone: bash
# bench/dsn.sh [BUILD]). The bounce mailbox's test mails (tests/data/dsn:
# Postfix's real DSNs, ARF complaints, non-standard bounces, a reply),
# parsed round robin BENCH_DSN times (default 10,000) from memory by
# herald's hd_dsn_parse (bench/dsn.c, the bounce rules classifying each
# bounce) and by Python's email package (bench/dsn.py: message_from_bytes
# and a walk of the delivery-status and feedback-report parts). Best of 3
# each. Target: at least 10x.
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_DSN:-10000}
FILES=("$ROOT"/tests/data/dsn/*.eml)
best_of3() { local b=0 v; for _ in 1 2 3; do v=$("$@" | awk '{ print $1 }'); [ "$v" -gt "$b" ] && b=$v; done; echo "$b"; }

echo "== dsn: $N parses of the ${#FILES[@]} bounce mailbox test mails, against Python's email package"
read -r _ cb cc cn < <("$ROOT/$B/bench/dsn" "$ROOT/etc/bounce-rules.tsv" "$N" "${FILES[@]}")
read -r _ pb pc pn < <(python3 "$ROOT/bench/dsn.py" "$N" "${FILES[@]}")
ours=$(best_of3 "$ROOT/$B/bench/dsn" "$ROOT/etc/bounce-rules.tsv" "$N" "${FILES[@]}")
ref=$(best_of3 python3 "$ROOT/bench/dsn.py" "$N" "${FILES[@]}")
echo "   python3 $(python3 -c 'import sys; print(sys.version.split()[0])') email: $ref mails/s ($pb with a delivery status, $pc complaints, $pn neither)"
echo "   herald hd_dsn_parse:  $ours mails/s ($cb bounces or delays, $cc complaints, $cn refused; the non-standard bounces too)"
awk -v a="$ours" -v b="$ref" 'BEGIN { printf "   ratio herald / python: %.1fx (target: at least 10x)\n", a / b }'
