-- POST a JSON body (args: path, API key, body) on every request.
local path, key, body
init = function(args) path, key, body = args[1], args[2], args[3] end
request = function()
  return wrk.format("POST", path, {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end
