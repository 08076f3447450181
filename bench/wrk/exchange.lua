-- POST /oauth2/token: token exchange (RFC 8693), a person's access token
-- (BENCH_SUBJECT) for one of their agents (BENCH_AGENT).
local body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
  .. "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"
  .. "&subject_token=" .. os.getenv("BENCH_SUBJECT")
  .. "&client_id=" .. os.getenv("BENCH_AGENT")

function request()
  return wrk.format("POST", "/oauth2/token", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end
