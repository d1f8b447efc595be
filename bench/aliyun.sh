#!/usr/bin/env bash
# The Aliyun SMS benchmark (issue 24): N SendSms requests through the
# aliyun_sms driver alone (each signed anew with ACS3-HMAC-SHA256, a fresh
# nonce, the query encoded) to the Aliyun mock (tests/mock/aliyun.js, Node:
# it verifies every signature with node:crypto), against wrk posting one
# request signed the same way (bench/aliyun request) to the same mock over
# the same number of connections for 10 s: the mock checks its signature
# too, then refuses the nonce it has seen (an answer of the same size), so
# the two differ by herald's signing and its HTTP engine. Target: at least
# 0.5x.
set -euo pipefail
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_ALIYUN:-20000}
C=${BENCH_ALIYUN_CONNS:-16}
OUT=$ROOT/bench/out/aliyun
mkdir -p "$OUT"
cd "$OUT"
export BENCH_ALI_SECRET=bench-Aliyun-Secret-7731
echo "== aliyun: $N signed SendSms requests over $C connections to the Aliyun mock"
rm -f ready in
# the mock exits when its stdin closes: a fifo this script holds open
mkfifo in
node "$ROOT/tests/mock/aliyun.js" --id LTAI5tHeraldBenchKey1 --secret "$BENCH_ALI_SECRET" \
  < in > ready &
MOCK=$!
exec 3> in
trap 'exec 3>&-; kill $MOCK 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q READY ready 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/READY/ { print $2 }' ready)
"$ROOT/$B/bench/aliyun" request "$PORT" > request.txt
cat > post.lua <<'LUA'
wrk.method = "POST"
local f = io.open("request.txt", "rb")
wrk.path = f:read("*l")
for line in f:lines() do
  local k, v = line:match("^([^:]+): (.*)$")
  wrk.headers[k] = v
end
f:close()
LUA
ref=$(wrk -t2 -c"$C" -d10s -s post.lua "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ { printf "%.0f", $2 }')
read -r ours ours_ok < <("$ROOT/$B/bench/aliyun" "$PORT" "$N" "$C")
echo "   wrk (one signed request, $C connections): $ref requests/s"
echo "   herald aliyun_sms driver:            $ours messages/s ($ours_ok accepted, each signed anew)"
awk -v a="$ours" -v b="$ref" 'BEGIN { printf "   ratio herald / wrk: %.2fx (target: at least 0.5x)\n", a / b }'
