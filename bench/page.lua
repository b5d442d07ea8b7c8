-- GET /checkout/:id over many distinct sessions: each request takes the next id from ids.txt.
local ids = {}
local counter = 0
init = function(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  counter = math.random(#ids)
end
request = function()
  counter = counter % #ids + 1
  return wrk.format("GET", "/checkout/" .. ids[counter] .. "?locale=he")
end
