-- wrk script: POST /predict with the original client's one-row pandas payload.
-- Run from the repository root (bench/webapp-load.sh does).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open("webapp/tests/data/original_client_payload.json", "r"))
wrk.body = file:read("*a")
file:close()
