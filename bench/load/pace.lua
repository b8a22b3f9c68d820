-- Paced wrk (perf-baseline "equal load"): every connection waits an exponential think time (mean 20 ms)
-- before each request, so ~100 connections give ~5k req/s with de-synchronised arrivals.
function delay() return math.floor(-math.log(1-math.random())*20+0.5) end
