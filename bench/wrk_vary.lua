-- wrk script: every request asks for sales by customer over a different date range (one of
-- about 20,000), so that a server whose report cache were unbounded would grow with each;
-- sends the bearer token from the environment and prints the same JSON line as
-- wrk_report.lua when the run ends.
local token = os.getenv("CLIENTELE_TOKEN")
if token then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local counter = 0

function request()
  counter = counter + 1
  local start = (counter * 7919) % 700
  local length = 30 + (counter * 104729) % 30
  local from = os.date("!%Y-%m-%d", 1672531200 + start * 86400)
  local to = os.date("!%Y-%m-%d", 1672531200 + (start + length) * 86400)
  return wrk.format("GET", wrk.path .. "&from=" .. from .. "&to=" .. to)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "bytes": %d, "errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status))
end
