-- POST /oauth2/token: client credentials, the client authenticated with
-- HTTP Basic (BENCH_BASIC: base64 of "client_id:key").
local basic = os.getenv("BENCH_BASIC")

function request()
  return wrk.format("POST", "/oauth2/token", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. basic,
  }, "grant_type=client_credentials&scope=users%3Aread")
end
