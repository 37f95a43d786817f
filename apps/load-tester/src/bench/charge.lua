-- wrk: one charge request per call (POST /trpc/requestCharge), each for its own vehicle id.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
local prefix = tostring({}):sub(8) .. tostring(os.time())
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"maxKw":11,"durationS":1,"vehicleId":"w' .. prefix .. "-" .. n .. '"}')
end
