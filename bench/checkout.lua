-- One complete checkout after another on each connection (run with as many threads as
-- connections, so each thread's state follows one customer): create the session through the
-- API, GET its page, read the CSRF token, POST the card, follow the 303 to success_url.
-- args: API key, customer id, "new" or a saved payment method id.
local key, customer, method
local step, session, csrf, location = 1, nil, nil, nil
completed, failed = 0, 0  -- globals: done() reads them with thread:get
local threads = {}

setup = function(thread) table.insert(threads, thread) end

init = function(args)
  key, customer, method = args[1], args[2], args[3]
end

request = function()
  if step == 1 then
    local body = '{"customer":"' .. customer .. '","line_items":[{"name":"Espresso","amount_agorot":1800,"quantity":2},' ..
      '{"name":"Discount","amount_agorot":-300}],"success_url":"http://127.0.0.1/healthz?paid={CHECKOUT_SESSION_ID}",' ..
      '"cancel_url":"http://127.0.0.1/healthz"}'
    return wrk.format("POST", "/v1/checkout_sessions", {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
  elseif step == 2 then
    return wrk.format("GET", "/checkout/" .. session)
  elseif step == 3 then
    local body = "csrf=" .. csrf
    if method == "new" then
      body = body .. "&payment_method=new&name=Tal&number=4242424242424242&exp=12%2F30&cvc=123"
    else
      body = body .. "&payment_method=" .. method
    end
    return wrk.format("POST", "/checkout/" .. session, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
  else
    return wrk.format("GET", location)
  end
end

response = function(status, headers, body)
  if step == 1 and status == 200 then
    session = body:match('"id":"(co_[^"]+)"'); step = 2
  elseif step == 2 and status == 200 then
    csrf = body:match('name="csrf" value="([0-9a-f]+)"'); step = 3
  elseif step == 3 and status == 303 then
    location = headers["Location"]:gsub("^http://127.0.0.1", ""); step = 4
  elseif step == 4 and status == 200 then
    completed = completed + 1; step = 1
  else
    failed = failed + 1; step = 1
  end
end

done = function(summary, latency, requests)
  local total, bad = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("completed")
    bad = bad + thread:get("failed")
  end
  io.write(string.format("CHECKOUTS %d %d %.3f\n", total, bad, summary.duration / 1e6))
end
