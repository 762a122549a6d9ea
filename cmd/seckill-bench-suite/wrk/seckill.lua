-- The issue 15 workload for wrk: POST {"user_id":N} with every user id sent
-- twice in a row (u, u, u+1, u+1, ...), each thread from its own range of
-- ids. make bench runs it against a sold-out activity and a bare handler:
--
--   wrk -t2 -c64 -d10s --latency -s seckill.lua http://127.0.0.1:8504/activities/ID/seckill
--
-- wrk gives a script no per-connection state, so the pairs are per thread:
-- a thread's connections take its ids in turn. wrk calls request() once
-- before the run to check the script, so a thread's first id may go once.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  first = (tid + 1) * 1000000000
  sent = 0
end

function request()
  local user = first + math.floor(sent / 2)
  sent = sent + 1
  return wrk.format(nil, nil, nil, '{"user_id":' .. user .. '}')
end
