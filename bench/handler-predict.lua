-- wrk script: POST /predict as the Functions host does (JSON invocation protocol), carrying the
-- original client's payload in the Core Tools shape. Run from the repository root
-- (bench/handler-load.sh does).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Azure-Functions-InvocationId"] = "6a1e53c2-4c1b-4f0e-9d8e-1c2b3a4d5e6f"
wrk.headers["User-Agent"] = "Azure-Functions-Host/4.0"
local file = assert(io.open("handler/tests/data/predict_original_client_core_tools.json", "r"))
wrk.body = file:read("*a")
file:close()
