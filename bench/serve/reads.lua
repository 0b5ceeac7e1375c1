-- wrk script: authenticated, purpose-bound profile reads, each of a different profile.
-- Reads ids (one per line) from the file named by IDS, and the token from TOKEN.
local ids = {}
for line in io.lines(os.getenv("IDS")) do
  ids[#ids + 1] = line
end
local token = os.getenv("TOKEN")
local n = 0

request = function()
  n = n + 1
  local id = ids[(n % #ids) + 1]
  return wrk.format("GET", "/v1/profiles/" .. id, {
    ["Authorization"] = "Bearer " .. token,
    ["Tessera-Purpose"] = "benefits",
  })
end

local bad = 0
response = function(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  end
end

done = function(summary, latency, requests)
  io.write(string.format("non-200 responses: %d\n", bad))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("p%s %.3f ms\n", p, latency:percentile(p) / 1000))
  end
end
