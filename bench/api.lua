-- api.lua: wrk posting transactional sends to herald's JSON API
-- (bench/api.sh). Thread k of $WRK_THREADS sends to contacts k, k + n, ...
-- of $CONTACTS (c0, c1, ...), starting at $FIRST, so that no two requests
-- name one contact (a run holds a contact once). With $KEY unset it GETs
-- /healthz through the same Lua calls, so the reference pays wrk the same.
local threads, count = {}, 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  step = tonumber(os.getenv("WRK_THREADS"))
  nxt, ok = tonumber(os.getenv("FIRST") or "0") + id, 0
  key = os.getenv("KEY")
  if not key then
    health = wrk.format("GET", "/healthz")
    return
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
  if health then return health end
  local body = string.format('{"template":"reset","contact":"c%d","data":{"code":"%06d"}}',
                             nxt, nxt % 1000000)
  nxt = nxt + step
  return wrk.format(nil, "/api/v1/messages", nil, body)
end

function response(status, headers, body)
  if status == 202 or (health and status == 200) then ok = ok + 1 end
end

function done(summary, latency, requests)
  local all = 0
  for _, t in ipairs(threads) do all = all + t:get("ok") end
  -- over wrk's own duration, which can run 100 ms past -d (oneclick.lua)
  io.write(string.format("api: ok %d secs %.6f\n", all, summary.duration / 1e6))
end
