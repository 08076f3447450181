-- POST /api/auth/signup, a new email every request.
local prefix = (os.getenv("BENCH_PREFIX") or "bench") .. "-" .. tostring(math.random(1e9))
local n = 0

function request()
  n = n + 1
  local body = '{"email":"' .. prefix .. "-" .. n .. '@example.com","password":"plinth-violet-forage-42"}'
  return wrk.format("POST", "/api/auth/signup", { ["Content-Type"] = "application/json" }, body)
end
