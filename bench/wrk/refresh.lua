-- POST /api/auth/refresh (bearer transport), every request with a fresh,
-- valid refresh token: each response's successor token is used next, so
-- every token is spent exactly once. BENCH_TOKENS names a file of starting
-- tokens: one per connection and a few spare (wrk calls request() once
-- more at start-up than it sends).
local tokens = {}

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    tokens[#tokens + 1] = line
  end
end

function request()
  local token = table.remove(tokens) or "exhausted"
  local body = '{"transport":"bearer","refresh_token":"' .. token .. '"}'
  return wrk.format("POST", "/api/auth/refresh", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if token then
    tokens[#tokens + 1] = token
  end
end
