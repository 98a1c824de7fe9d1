-- wrk script: every request asks for sales by customer over a different date range (one of
-- about 20,000), so that a server whose report cache were unbounded would grow with each.
-- The token header and the JSON summary line come from wrk_report.lua (bench/server.sh runs
-- wrk from the repository's root).
dofile("bench/wrk_report.lua")
local counter = 0

function request()
  counter = counter + 1
  local start = (counter * 7919) % 700
  local length = 30 + (counter * 104729) % 30
  local from = os.date("!%Y-%m-%d", 1672531200 + start * 86400)
  local to = os.date("!%Y-%m-%d", 1672531200 + (start + length) * 86400)
  return wrk.format("GET", wrk.path .. "&from=" .. from .. "&to=" .. to)
end
