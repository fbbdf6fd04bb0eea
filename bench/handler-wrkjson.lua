-- wrk script: the handler's one-row `predict` invocation (bench/handler-predict.lua) with the
-- one-line JSON summary bench/side-by-side.py and bench/handler-before-after.py read
-- (bench/wrkjson.lua's `done`). Run from the repository root.
dofile("bench/wrkjson.lua")
dofile("bench/handler-predict.lua")
