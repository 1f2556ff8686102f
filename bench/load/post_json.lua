-- wrk script: POSTs the JSON body in the file named by $MLC_BODY to the
-- path in $MLC_PATH, and counts answers by status so the run reports 503s
-- (queue full) separately from other non-2xx answers.
local body_file = os.getenv("MLC_BODY")
local path = os.getenv("MLC_PATH") or "/infer/classification"
local f = assert(io.open(body_file, "rb"), "MLC_BODY: cannot open " .. tostring(body_file))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = path
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  s200, s503, sother = 0, 0, 0
end

function response(status, headers, body)
  if status == 200 then
    s200 = s200 + 1
  elseif status == 503 then
    s503 = s503 + 1
  else
    sother = sother + 1
  end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("s200")
    b = b + t:get("s503")
    c = c + t:get("sother")
  end
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT path=%s requests=%d ok=%d busy503=%d other=%d rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors_socket=%d\n",
    path, summary.requests, a, b, c, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
