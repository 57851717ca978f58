-- Every request asks for a new path, so each one is a cache miss (fill, store, evict).
local counter = 0
local prefix = "/cacheable/miss-" .. tostring(math.random(1, 1000000000)) .. "-"
request = function()
  counter = counter + 1
  return wrk.format("GET", prefix .. counter)
end
