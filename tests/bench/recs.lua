-- recs.lua: wrk script for the recommendation throughput benchmark:
-- GET /v1/clients/c<random>/recommendations?k=10 over the loaded clients,
-- with the API key of BENCH_AUTHORIZATION ("Bearer mz_...") when set.
local nclients = tonumber(os.getenv("BENCH_CLIENTS") or "10000")
local query = os.getenv("BENCH_QUERY") or "k=10"
local auth = os.getenv("BENCH_AUTHORIZATION")
local headers = auth and {["Authorization"] = auth} or {}
local next_thread = 0

function setup(thread)
   next_thread = next_thread + 1
   thread:set("tid", next_thread)
end

function init(args)
   math.randomseed(tid * 104729 + os.time())
end

function request()
   return wrk.format("GET", string.format(
      "/v1/clients/c%d/recommendations?%s",
      math.random(0, nclients - 1), query), headers)
end
