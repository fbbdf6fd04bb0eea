-- wrk script: POST /api/predict with the original client's one-row pandas payload, as an HTTP
-- client calls the function (forwarded to the handler). Sends x-functions-key when the
-- FUNCTIONS_KEY environment variable is set (the local host needs it; the handler ignores it).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("FUNCTIONS_KEY")
if key and key ~= "" then
    wrk.headers["x-functions-key"] = key
end
wrk.body = '{"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":15.3},"B":{"0":396.9},"LSTAT":{"0":4.98}}'
