-- wrk script: POST /v1/commands with 100 deposits per request (durable commands over HTTP).
-- DERIVPOOL_KEY=<admin key> wrk -t1 -c32 -d10s -s crates/server/benches/wrk/commands.lua http://127.0.0.1:8080/v1/commands
local per_request = 100
local cmds = {}
for i = 0, per_request - 1 do
  cmds[#cmds + 1] = string.format(
    '{"type":"deposit","account":"acct%d","asset":"USDC","amount":"1.5"}', i % 50)
end
wrk.method = "POST"
wrk.body = "[" .. table.concat(cmds, ",") .. "]"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("DERIVPOOL_KEY") or "")

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("requests/s=%.0f commands/s=%.0f p50=%.0fus p99=%.0fus errors=%d\n",
    summary.requests / seconds, per_request * summary.requests / seconds,
    latency:percentile(50), latency:percentile(99), summary.errors.status))
end
