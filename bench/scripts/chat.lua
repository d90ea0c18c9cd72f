-- wrk script: POST a chat completion naming a random end user; prints one RESULT line.
-- No response() callback: it would make wrk parse every body and slow the client down.
-- Env: BENCH_USERS (100000), BENCH_USER_PREFIX ("u"), BENCH_HEADERS_FILE (extra "Name: value" lines),
--      BENCH_MODE ("chat"; "signup": POST /api/admin/users with a fresh id per request;
--      "walk": every user once, in order, split over the threads (BENCH_THREADS), then stop — warms KeyPool's cache).
local users = tonumber(os.getenv("BENCH_USERS") or "100000")
local prefix = os.getenv("BENCH_USER_PREFIX") or "u"
local mode = os.getenv("BENCH_MODE") or "chat"
local body = '{"model":"grok-4.3","messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
local counter = 0
local tag = ""

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = os.getenv("BENCH_HEADERS_FILE")
if file and file ~= "" then
  for line in io.lines(file) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then wrk.headers[name] = value end
  end
end

local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  tag = tostring(os.time()) .. "-" .. tostring(tid or 0) .. "-"
end

local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local walked = 0

function request()
  if mode == "walk" then
    local i = counter * nthreads + (tid or 1) - 1
    counter = counter + 1
    wrk.headers["X-KeyPool-User"] = prefix .. (i % users)
    return wrk.format(nil, wrk.path, wrk.headers, body)
  end
  if mode == "signup" then
    counter = counter + 1
    return wrk.format(nil, wrk.path, wrk.headers, '{"id":"s' .. tag .. counter .. '"}')
  end
  wrk.headers["X-KeyPool-User"] = prefix .. math.random(0, users - 1)
  return wrk.format(nil, wrk.path, wrk.headers, body)
end

if mode == "walk" then
  -- Only in walk mode: a response() callback makes wrk parse every answer.
  function response(status, headers, body)
    walked = walked + 1
    if walked * nthreads >= users then wrk.thread:stop() end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d http_errors=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
