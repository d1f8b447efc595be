-- oneclick.lua: wrk posting RFC 8058 one-click unsubscribes, each to a
-- different real link. $TOKENS is a file of /u/TOKEN paths (bench/tokens
-- makes them); thread k of $WRK_THREADS takes lines k, k + n, ... so that
-- no link is posted twice. A thread that runs out posts to a bad link
-- (answered 400, counted in ran_out) rather than repeat one: every 200 is
-- then a new consent row, which the bench script checks. With $TOKENS
-- unset it GETs /healthz instead, through the same Lua calls, so that the
-- reference pays wrk the same per request. A line of $TOKENS with tabs is
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
        paths[#paths + 1] = line
      end
    end
    k = k + 1
  end
  wrk.method = "POST"
  wrk.body = "List-Unsubscribe=One-Click"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  if health then return health end
  nxt = nxt + 1
  if nxt > #paths then
    ran_out = ran_out + 1
    return wrk.format(nil, "/u/ran-out")
  end
  local p = paths[nxt]
  if p:sub(1, 1) == "/" then return wrk.format(nil, p) end
  return p -- a request formatted whole by init
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
