-- Every request asks for a new path, so each one is a cache miss (fill, store, evict).
-- The prefix is random per wrk run: wrk does not seed Lua's random numbers, and a run that
-- repeated the last run's paths would find them cached.
local function seed()
  local f = io.open("/dev/urandom", "rb")
  if f then
    local b = f:read(4)
    f:close()
    return b:byte(1) * 16777216 + b:byte(2) * 65536 + b:byte(3) * 256 + b:byte(4)
  end
  return os.time()
end
math.randomseed(seed())
local counter = 0
local prefix = "/cacheable/miss-" .. tostring(math.random(1, 1000000000)) .. "-"
request = function()
  counter = counter + 1
  return wrk.format("GET", prefix .. counter)
end
