-- wrk script for the registry's mix: one signed-in user per connection (run with as
-- many threads as connections: -t16 -c16), 70 % patient pages of the user's own site,
-- 20 % worklist pages, 10 % visit saves (a POST of the visit form with the connection's
-- CSRF token; each visit is saved once, at the version it had when the run began).  Like a
-- browser, each connection keeps the session cookie the server last set.
--
-- Environment: WRK_DATA (a Lua file written by bench_load.py: cookies, CSRF tokens,
-- patient ids, visits to save, the answers), WRK_RESULTS (the summary file),
-- WRK_NO_SAVES=1 (warm-up: pages only).
local common = dofile("common.lua")
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

function init(args)
  local data = dofile(os.getenv("WRK_DATA"))
  local me = data.connections[index]
  use_cookie(me.cookie)
  body_prefix = "csrf_token=" .. me.csrf .. "&" .. data.answers
  patients = me.patients
  saves = me.saves
  if os.getenv("WRK_NO_SAVES") == "1" then saves = {} end
  worklist_pages = data.worklist_pages
  next_save = 1
  kind, current = nil, nil
  n_patient, n_worklist, n_save, n_exhausted = 0, 0, 0, 0
  bad_patient, bad_worklist, bad_save = 0, 0, 0
  bad_statuses = ""
  saved_ids = ""
  math.randomseed(os.time() * 100 + index)
end

function use_cookie(cookie)
  headers_get = {["Cookie"] = "registry_session=" .. cookie}
  headers_post = {["Cookie"] = "registry_session=" .. cookie,
                  ["Content-Type"] = "application/x-www-form-urlencoded"}
end

-- The mix as shares (WRK_MIX="patient,worklist,save" in percent; default 70,20,10).
local mix = {70, 20, 10}
if os.getenv("WRK_MIX") then
  local i = 1
  for share in string.gmatch(os.getenv("WRK_MIX"), "[^,]+") do mix[i] = tonumber(share); i = i + 1 end
end
local save_below = mix[3] / 100
local worklist_below = (mix[3] + mix[2]) / 100

function request()
  local draw = math.random()
  if draw < save_below then
    if next_save <= #saves then
      local target = saves[next_save]
      next_save = next_save + 1
      kind, current = "save", target[2]
      local body = body_prefix .. "&visit_date=" .. target[4] .. "&version=" .. target[3]
      return wrk.format("POST", "/patients/" .. target[1] .. "/visits/" .. target[2],
                        headers_post, body)
    end
    n_exhausted = n_exhausted + 1
  elseif draw < worklist_below then
    kind = "worklist"
    return wrk.format("GET", "/followup/?page=" .. math.random(1, worklist_pages), headers_get)
  end
  kind = "patient"
  return wrk.format("GET", "/patients/" .. patients[math.random(1, #patients)], headers_get)
end

local function note_bad(status)
  if #bad_statuses < 400 then bad_statuses = bad_statuses .. kind .. ":" .. status .. " " end
end

function response(status, headers, body)
  local cookie = (headers["Set-Cookie"] or ""):match("^registry_session=([^;]+)")
  if cookie then use_cookie(cookie) end
  if kind == "save" then
    n_save = n_save + 1
    if status == 302 and (headers["Location"] or ""):find("/visits/") then
      saved_ids = saved_ids .. current .. ","
    else
      bad_save = bad_save + 1
      note_bad(status)
    end
  elseif kind == "worklist" then
    n_worklist = n_worklist + 1
    if status ~= 200 then bad_worklist = bad_worklist + 1; note_bad(status) end
  else
    n_patient = n_patient + 1
    if status ~= 200 then bad_patient = bad_patient + 1; note_bad(status) end
  end
end

function done(summary, latency, requests)
  local out = common.write_summary(summary, latency)
  if not out then return end
  for i, thread in ipairs(threads) do
    for _, name in ipairs({"n_patient", "n_worklist", "n_save", "n_exhausted", "bad_patient",
                           "bad_worklist", "bad_save"}) do
      out:write(string.format("thread%d.%s=%d\n", i, name, thread:get(name) or 0))
    end
    out:write(string.format("thread%d.bad_statuses=%s\n", i, thread:get("bad_statuses") or ""))
    out:write(string.format("thread%d.saved=%s\n", i, thread:get("saved_ids") or ""))
  end
  out:close()
end
