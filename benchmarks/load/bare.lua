-- wrk script for the bare Flask yardstick: GET /patients/<random id>.
-- Environment: BARE_PATIENTS (number of patients), WRK_RESULTS (summary file).
local common = dofile("common.lua")
local patients = tonumber(os.getenv("BARE_PATIENTS") or "1000")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
end

function init(args)
  math.randomseed(os.time() * 100 + index)
end

function request()
  return wrk.format("GET", "/patients/" .. math.random(1, patients))
end

function done(summary, latency, requests)
  local out = common.write_summary(summary, latency)
  if out then out:close() end
end
