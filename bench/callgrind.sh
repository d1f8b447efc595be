#!/usr/bin/env bash
# callgrind: instructions per message, a figure that does not move with the
# processor or with what else the machine is doing (the wall-clock ratios of
# run.sh do). A campaign of N messages (default 10,000) goes through
# `herald send` under valgrind's callgrind, all threads counted, start-up and
# materialization included: once by email to postfix's smtp-sink, once by push
# to nginx answering like FCM. Each is also run with one message, and
#   per message, all included   = total(N) / N
#   per message, start-up taken = (total(N) - total(1)) / (N - 1)
# the latter against the target of issue 25 (at most 60,000: a line that
# says met or NOT MET), and the instructions of the N-message run are split
# by library. Each campaign's profile stays in bench/out-callgrind/
# (email.cg, push.cg) for callgrind_annotate; BENCH_CG_ONLY=email or push
# runs one of them.
#   usage: bench/callgrind.sh [BUILD_DIR]      (make bench runs it)
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERALD=$ROOT/$B/herald
N=${BENCH_CG_MESSAGES:-10000}
OUT=$ROOT/bench/out-callgrind
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
. "$ROOT/bench/lib.sh"

start_sink
start_nginx
trap 'kill $SINK $NGX 2>/dev/null || true' EXIT

# total NAME: the instructions of `herald send NAME` under callgrind
total() {
  valgrind --tool=callgrind --callgrind-out-file="$1.cg" "${H_ARGS[@]}" send "$1" \
    > "$1.out" 2> "$1.vg"
  awk '/^summary:/ { print $2 }' "$1.cg"
}

# by_library FILE: the self cost of a callgrind profile by shared object,
# read from the profile itself: "ob=" names the object of the lines after
# it; a cost line right after "calls=" is a call's inclusive cost, not self
by_library() {
  python3 - "$1" <<'PY'
import re, sys
names, by, ob, after_call = {}, {}, "?", False
for line in open(sys.argv[1]):
    if line.startswith(("ob=", "cob=")):
        m = re.match(r"c?ob=\((\d+)\)\s*(.*)", line.strip())
        if m and m.group(2):
            names[m.group(1)] = m.group(2)
        if line.startswith("ob="):
            ob = names.get(m.group(1), "?") if m else line[3:].strip()
        continue
    if line.startswith("calls="):
        after_call = True
        continue
    if line[:1].isdigit() or line[:1] in "+-*":
        if not after_call:
            parts = line.split()
            if len(parts) >= 2:
                lib = re.sub(r"\.so[.\d]*$", "", ob.rsplit("/", 1)[-1])
                by[lib] = by.get(lib, 0) + int(parts[1])
        after_call = False
tot = sum(by.values()) or 1
for lib, n in sorted(by.items(), key=lambda kv: -kv[1])[:8]:
    print("     %-22s %5.1f%%" % (lib, 100.0 * n / tot))
PY
}

# measure LABEL COLUMN FORMAT CHANNEL PROVIDER_SECTION
measure() {
  local label=$1; shift
  campaign_setup one 1 "$@"
  local t1; t1=$(total one)
  campaign_cleanup one
  campaign_setup many "$N" "$@"
  local tn; tn=$(total many)
  local sent; sent=$(sqlite3 many.db "SELECT count(*) FROM messages WHERE state = 2")
  [ "$sent" = "$N" ] || { echo "bench: $label campaign sent $sent of $N" >&2; exit 1; }
  echo "== callgrind: $label, a $N-message campaign through herald send"
  awk -v t="$tn" -v o="$t1" -v n="$N" -v label="$label" 'BEGIN {
    printf "   total %.0f instructions (one message: %.0f)\n", t, o
    printf "   per message, all included:      %.0f\n", t / n
    printf "   per message, start-up subtracted: %.0f (target: at most 60,000)\n", (t - o) / (n - 1)
    v = (t - o) / (n - 1)
    printf "   %s against the target: %.0f a message, %.2fx of 60,000: %s\n", label, v, v / 60000,
      v <= 60000 ? "met" : "NOT MET" }'
  echo "   where they go:"
  by_library many.cg
  mv many.cg "$label.cg"
  campaign_cleanup many
}

ONLY=${BENCH_CG_ONLY:-email push}
case " $ONLY " in *" email "*) measure email email "user%d@example.com" email "$(smtp_provider)" ;; esac
case " $ONLY " in *" push "*) measure push fcm_token "fcm%012d:APA91bbench" push "$(fcm_provider)" ;; esac
