-- wrk script: sends the bearer token from the environment and prints one JSON line with
-- throughput, latency percentiles (ms) and errors when the run ends.
local token = os.getenv("CLIENTELE_TOKEN")
if token then
  wrk.headers["Authorization"] = "Bearer " .. token
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
