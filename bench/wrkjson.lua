-- wrk script: POST /predict with the original client's one-row payload, then one JSON line
-- ("WRKJSON {...}") with the figures bench/side-by-side.py reads.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open("webapp/tests/data/original_client_payload.json", "r"))
wrk.body = file:read("*a")
file:close()

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"rps":%.1f,"p50_us":%d,"p99_us":%d,"errors":%d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
