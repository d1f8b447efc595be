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
--
-- wrk runs each thread's init, then starts that thread, before it runs the
-- next thread's init: with $TOKENS, thread 0 posts on its own while thread
-- 1 reads and formats its links (about a third of a second for 150,000
-- lines), and its 200s of that time would count as if made within the
-- run's duration, which wrk times from when the last thread started. So
-- the last thread's init ends by creating $TOKENS.ready, and a 200 counts
-- (ok) only once the thread answered has seen that file; before it, it is
-- counted in early. The bench removes the file before each run.
local threads, count = {}, 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  local step, k, file = tonumber(os.getenv("WRK_THREADS")), 0, os.getenv("TOKENS")
  paths, nxt, ok, ran_out, early = {}, 0, 0, 0, 0
  if not file then
    health = wrk.format("GET", "/healthz")
    ready = true
    return
  end
  marker = file .. ".ready"
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
  if id == step - 1 then
    assert(io.open(marker, "w")):close()
    ready = true
  end
end

-- whether every thread has started (the top of the file)
local function started()
  if not ready then
    local f = io.open(marker)
    if f then
      f:close()
      ready = true
    end
  end
  return ready
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
  if status == 200 then
    if started() then ok = ok + 1 else early = early + 1 end
  end
end

function done(summary, latency, requests)
  local all_ok, all_out, all_early = 0, 0, 0
  for _, t in ipairs(threads) do
    all_ok = all_ok + t:get("ok")
    all_out = all_out + t:get("ran_out")
    all_early = all_early + t:get("early")
  end
  -- wrk's own duration: from the last thread's start until every thread
  -- stopped, which can be 100 ms past -d (a thread sees the stop at its
  -- next 100 ms tick, and its answers until then are counted too)
  io.write(string.format("oneclick: ok %d ran_out %d early %d secs %.6f\n", all_ok, all_out,
    all_early, summary.duration / 1e6))
end
