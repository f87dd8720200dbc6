-- wrk script: prints p50/p99/p99.9 latency after a run.
-- wrk -t1 -c64 -d15s -s crates/server/benches/wrk/latency.lua "http://127.0.0.1:8080/v1/quote?pool=main&instrument=BTC-30JUN28-45000-C&side=buy&size=1&account=alice"
done = function(summary, latency, requests)
  io.write(string.format("p50=%.0fus p99=%.0fus p99.9=%.0fus max=%.0fus\n",
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
