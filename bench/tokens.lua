-- wrk script: every request carries the next access token of a pool (a file, one token a line),
-- each wrk thread its own share of the pool, so no token is sent twice while the pool lasts.
-- Arguments after `--`: FILE THREADS MODE, MODE `cycle` (start the share over when used up) or
-- `once` (the thread stops when its share is used up). With WRK_PACE_MS set in the environment,
-- each connection waits that long between its requests (bench/pace.lua, run from here).

local threads_started = 0

-- pace.lua lives beside this file.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "pace.lua")

function setup(thread)
  thread:set("id", threads_started)
  threads_started = threads_started + 1
end

local tokens, position, once

function init(args)
  local path, threads = args[1], tonumber(args[2])
  once = args[3] == "once"
  tokens = {}
  local line_number = 0
  for line in io.lines(path) do
    if line_number % threads == id and #line > 0 then
      tokens[#tokens + 1] = "Bearer " .. line
    end
    line_number = line_number + 1
  end
  position = 0
end

function request()
  position = position + 1
  if position > #tokens then
    if once then
      wrk.thread:stop()
    end
    position = 1
  end
  return wrk.format(nil, nil, { Authorization = tokens[position] })
end
