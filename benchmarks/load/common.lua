-- Shared by the load scripts: write wrk's summary and latency percentiles as key=value
-- lines to the file named by the environment variable WRK_RESULTS.
local common = {}

function common.write_summary(summary, latency)
  local path = os.getenv("WRK_RESULTS")
  if not path then return nil end
  local out = assert(io.open(path, "w"))
  out:write(string.format("requests=%d\n", summary.requests))
  out:write(string.format("duration_us=%d\n", summary.duration))
  out:write(string.format("bytes=%d\n", summary.bytes))
  out:write(string.format("errors_connect=%d\n", summary.errors.connect))
  out:write(string.format("errors_read=%d\n", summary.errors.read))
  out:write(string.format("errors_write=%d\n", summary.errors.write))
  out:write(string.format("errors_status=%d\n", summary.errors.status))
  out:write(string.format("errors_timeout=%d\n", summary.errors.timeout))
  for _, p in ipairs({50, 90, 95, 99}) do
    out:write(string.format("p%d_us=%d\n", p, latency:percentile(p)))
  end
  out:write(string.format("max_us=%d\n", latency.max))
  out:write(string.format("mean_us=%.1f\n", latency.mean))
  return out
end

return common
