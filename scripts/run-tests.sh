#!/usr/bin/env bash
# run-tests.sh: make test's runner. Runs the test programs given, JOBS at a
# time (the Makefile says 3: most of a program's time is spent waiting on the
# servers, mocks and processes it starts, not on a core), each program's
# output kept in OUT/NAME.log and printed whole, in the order given, once it
# has ended, so the log reads as a serial run would. Every program runs
# even after a failure; the exit status says whether any failed, and the
# failed ones are named again at the end. WRAP (a word list, may be empty)
# goes before each program (valgrind).
#
#   scripts/run-tests.sh OUT JOBS "WRAP" PROGRAM...
set -u
out=$1 jobs=$2 wrap=$3
shift 3
mkdir -p "$out"
names=("$@")
declare -A status
next=0 printed=0 running=0
declare -A pid_of

start_one() {
  local t=$1 log
  log="$out/$(basename "$t").log"
  (
    # shellcheck disable=SC2086 # WRAP is a word list
    $wrap "./$t" > "$log" 2>&1
    echo $? > "$log.rc"
  ) &
  pid_of[$!]=$t
  running=$((running + 1))
}

# prints, in order, every program that has ended and whose turn it is
print_ready() {
  while [ "$printed" -lt "${#names[@]}" ]; do
    local t=${names[$printed]} log
    log="$out/$(basename "$t").log"
    [ -f "$log.rc" ] || return 0
    echo "== $t"
    cat "$log"
    status[$t]=$(cat "$log.rc")
    printed=$((printed + 1))
  done
}

rm -f "$out"/*.log "$out"/*.log.rc
while [ "$next" -lt "${#names[@]}" ] || [ "$running" -gt 0 ]; do
  while [ "$running" -lt "$jobs" ] && [ "$next" -lt "${#names[@]}" ]; do
    start_one "${names[$next]}"
    next=$((next + 1))
  done
  wait -n 2>/dev/null
  running=0
  for p in "${!pid_of[@]}"; do
    if kill -0 "$p" 2>/dev/null; then running=$((running + 1)); else unset "pid_of[$p]"; fi
  done
  print_ready
done
wait
print_ready

failed=()
for t in "${names[@]}"; do
  [ "${status[$t]:-1}" = 0 ] || failed+=("$t")
done
if [ "${#failed[@]}" = 0 ]; then
  echo "make test: all test programs passed"
  exit 0
fi
echo "make test: FAILURES in: ${failed[*]} (see above)"
exit 1
