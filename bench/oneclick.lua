-- oneclick.lua: wrk posting RFC 8058 one-click unsubscribes, each to a
-- different real link. $TOKENS is a file of /u/TOKEN paths (bench/tokens
-- makes them); thread k of $WRK_THREADS takes lines k, k + n, ... so that
-- no link is posted twice. A thread that runs out posts to a bad link
-- (answered 400, counted in ran_out) rather than repeat one: every 200 is
-- then a new consent row, which the bench script checks. With $TOKENS
-- unset it GETs /healthz instead, through the same Lua calls, so that the
-- reference pays wrk the same per request: every request is formatted
-- once, in init (formatting one per request in Lua cost wrk about 10 µs of
-- CPU a request, on the machine the server shares with it, which the
-- reference did not pay). A line of $TOKENS with tabs is
-- "PATH<TAB>SIGNATURE<TAB>BODY" (bench/receipts.sh: a Twilio status
-- callback, its form body and its X-Twilio-Signature), posted as it is.
local threads, count = {}, 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  local step, k, file = tonumber(os.getenv("WRK_THREADS")), 0, os.getenv("TOKENS")
  paths, nxt, ok, ran_out = {}, 0, 0, 0
  if not file then
    health = wrk.format("GET", "/healthz")
    return
  end
  for line in io.lines(file) do
    if k % step == id then
      local path, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      if path then
        paths[#paths + 1] = wrk.format("POST", path, { ["Content-Type"] =
          "application/x-www-form-urlencoded", ["X-Twilio-Signature"] = sig }, body)
      else
        paths[#paths + 1] = wrk.format("POST", line, { ["Content-Type"] =
          "application/x-www-form-urlencoded" }, "List-Unsubscribe=One-Click")
      end
    end
    k = k + 1
  end
  ran_out_req = wrk.format("POST", "/u/ran-out", { ["Content-Type"] =
    "application/x-www-form-urlencoded" }, "List-Unsubscribe=One-Click")
end

function request()
  if health then return health end
  nxt = nxt + 1
  if nxt > #paths then
    ran_out = ran_out + 1
    return ran_out_req
  end
  return paths[nxt] -- formatted whole by init, as /healthz's is
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 end
end

function done(summary, latency, requests)
  local all_ok, all_out = 0, 0
  for _, t in ipairs(threads) do
    all_ok = all_ok + t:get("ok")
    all_out = all_out + t:get("ran_out")
  end
  io.write(string.format("oneclick: ok %d ran_out %d\n", all_ok, all_out))
end
