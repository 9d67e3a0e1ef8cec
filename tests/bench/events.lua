-- events.lua: wrk script for the ingestion benchmark.
-- Every request is POST /v1/events with BENCH_BATCH (default 100) new
-- events; event ids are unique per run (BENCH_RUN), thread and request, so
-- none is a duplicate. Clients c0..c(BENCH_CLIENTS-1), items
-- i0..i(BENCH_ITEMS-1), the ids the bench loaded. BENCH_AUTHORIZATION
-- ("Bearer mz_...") is sent as the Authorization header when set.
local batch = tonumber(os.getenv("BENCH_BATCH") or "100")
local nclients = tonumber(os.getenv("BENCH_CLIENTS") or "10000")
local nitems = tonumber(os.getenv("BENCH_ITEMS") or "50000")
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local types = {"view", "view", "view", "view", "click", "click",
               "add_to_cart", "wishlist"}
local headers = {["Content-Type"] = "application/json"}
if os.getenv("BENCH_AUTHORIZATION") then
   headers["Authorization"] = os.getenv("BENCH_AUTHORIZATION")
end
local next_thread = 0
local counter = 0

function setup(thread)
   next_thread = next_thread + 1
   thread:set("tid", next_thread)
end

function init(args)
   math.randomseed(tid * 7919 + os.time())
end

function request()
   counter = counter + 1
   local now = os.time()
   local parts = {}
   for i = 1, batch do
      parts[i] = string.format(
         '{"event_id":"w%s-%d-%d-%d","client_id":"c%d","item_id":"i%d",' ..
         '"type":"%s","ts":%d}',
         run, tid, counter, i, math.random(0, nclients - 1),
         math.random(0, nitems - 1), types[math.random(#types)], now)
   end
   return wrk.format("POST", "/v1/events",
                     headers,
                     '{"events":[' .. table.concat(parts, ",") .. ']}')
end
