// Lua scripts run atomically by Redis (one script = one atomic step, so concurrent instances cannot
// interleave between "count" and "add"). Both scripts touch exactly one key, KEYS[1], so in Redis
// Cluster a call always lands on a single slot.
//
// ARGV[1] is the time in ms, or "-1" to read the Redis server clock (TIME) so every instance shares
// one timeline whatever its own clock says. Redis >= 5 replicates script effects, not the script, so
// reading TIME before writing is allowed.
//
// Both return {allowed (0|1), remaining, resetMs, retryAfterMs} as integers.

import { createHash } from 'node:crypto';

/**
 * Sliding-window log. ARGV: now, windowMs, limit, cost, member id prefix, minimum key TTL ms.
 * The window at time t is (t - windowMs, t]: an entry scored s counts while s > t - windowMs.
 * A request is admitted iff (entries in the window) + cost <= limit, so no window of length windowMs
 * ever holds more than `limit` admitted units, and a rejection happens only when it is full.
 * Memory: one sorted-set entry per admitted unit in the window.
 */
export const SLIDING_LOG_LUA = `
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count + cost <= limit then
  for i = 1, cost do
    redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. i)
  end
  local ttl = window
  if tonumber(ARGV[6]) > ttl then ttl = tonumber(ARGV[6]) end
  redis.call('PEXPIRE', KEYS[1], ttl)
  -- the newest entry leaves last: the whole quota is back at now + window
  return {1, limit - count - cost, window, 0}
end
local retry = window
if cost <= limit and count > 0 then
  -- the (count + cost - limit)-th oldest entry must leave the window first
  local nth = redis.call('ZRANGE', KEYS[1], count + cost - limit - 1, count + cost - limit - 1, 'WITHSCORES')
  if nth[2] then retry = tonumber(nth[2]) + window - now end
end
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local reset = 0
if newest[2] then reset = tonumber(newest[2]) + window - now end
if retry < 1 then retry = 1 end
return {0, limit - count, reset, retry}
`;

/**
 * GCRA (generic cell rate algorithm): a token bucket kept as ONE number, the theoretical arrival
 * time (TAT). ARGV: now, emission interval ms (1000 / maxRps), burst, cost, minimum key TTL ms.
 * tokens(now) = (now + burst * T - TAT) / T, capped at burst; admitted iff tokens >= cost.
 * The TAT is stored with %.17g so it round-trips exactly; the key expires when the bucket is full.
 */
export const GCRA_LUA = `
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local T = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tau = T * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local newTat = tat + T * cost
local allowAt = newTat - tau
if allowAt > now + 1e-6 then
  local remaining = math.floor((now + tau - tat) / T + 1e-9)
  if remaining < 0 then remaining = 0 end
  local retry = math.ceil(allowAt - now)
  if cost > burst then retry = math.ceil(tat - now) end
  if retry < 1 then retry = 1 end
  return {0, remaining, math.ceil(tat - now), retry}
end
local ttl = math.ceil(newTat - now)
if ttl < 1 then ttl = 1 end
local keyTtl = ttl
if tonumber(ARGV[5]) > keyTtl then keyTtl = tonumber(ARGV[5]) end
redis.call('SET', KEYS[1], string.format('%.17g', newTat), 'PX', keyTtl)
local remaining = math.floor((now + tau - newTat) / T + 1e-9)
if remaining < 0 then remaining = 0 end
return {1, remaining, ttl, 0}
`;

export interface LoadedScript {
  readonly source: string;
  readonly sha1: string;
}

export function loadedScript(source: string): LoadedScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

export const SLIDING_LOG: LoadedScript = loadedScript(SLIDING_LOG_LUA);
export const GCRA: LoadedScript = loadedScript(GCRA_LUA);
