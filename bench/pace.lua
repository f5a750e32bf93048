-- wrk script: each connection waits WRK_PACE_MS milliseconds (an environment variable) between
-- its requests, so that wrk sends about connections × 1000 / WRK_PACE_MS requests a second
-- instead of as many as the server answers. wrk measures each request from when it is sent.

local pace = tonumber(os.getenv("WRK_PACE_MS"))
if pace then
  function delay()
    return pace
  end
end
