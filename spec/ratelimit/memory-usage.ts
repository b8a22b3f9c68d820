// Measures the Redis memory cost per key of each algorithm on a fresh local redis-server (numbers in
// docs/rate-limiting.md). Not a test: run with `node spec/ratelimit/memory-usage.ts`.
import { Redis } from 'ioredis';
import { startRedis } from '../helpers/redis.ts';
import { createRedisLimiterStore } from '../../src/ratelimit/redis-store.ts';
import type { RedisLimit } from '../../src/ratelimit/redis-store.ts';
const r = await startRedis();
const a = new Redis(r.url);
const mem = async () => Number(/used_memory:(\d+)/.exec(await a.info('memory'))![1]);
const out: string[] = [];
for (const n of [1, 10, 100, 1000]) {
  const s = createRedisLimiterStore({ filterId: 'm'+n, limit: { algorithm: 'sliding-log', limit: 100000, windowMs: 600000 }, connection: { url: r.url }, redisTimeoutMs: 5000 });
  await s.start();
  for (let i = 0; i < n; i++) await s.consume('203.0.113.77', 0);
  out.push(`sliding-log entries=${n} MEMORY USAGE=${await a.memory('USAGE', s.redisKey('203.0.113.77'), 'SAMPLES', 0)} encoding=${await a.object('ENCODING', s.redisKey('203.0.113.77'))}`);
  await s.close();
}
const g = createRedisLimiterStore({ filterId: 'g', limit: { algorithm: 'gcra', maxRps: 0.001, burst: 100 }, connection: { url: r.url }, redisTimeoutMs: 5000 });
await g.start();
await g.consume('203.0.113.77', 0);
out.push(`gcra MEMORY USAGE=${await a.memory('USAGE', g.redisKey('203.0.113.77'))} encoding=${await a.object('ENCODING', g.redisKey('203.0.113.77'))} value=${await a.get(g.redisKey('203.0.113.77'))}`);
await g.close();
// per-key cost at scale, including dict + expires overhead: 20k keys
await a.flushall();
for (const [name, limit, per] of [['gcra', { algorithm: 'gcra', maxRps: 0.001, burst: 100 }, 1], ['sliding-log x1', { algorithm: 'sliding-log', limit: 100, windowMs: 600000 }, 1], ['sliding-log x10', { algorithm: 'sliding-log', limit: 100, windowMs: 600000 }, 10]] as const satisfies ReadonlyArray<readonly [string, RedisLimit, number]>) {
  await a.flushall();
  const s = createRedisLimiterStore({ filterId: 'scale', limit, connection: { url: r.url }, redisTimeoutMs: 5000 });
  await s.start();
  const before = await mem();
  const N = 20000;
  for (let i = 0; i < N; i += 500) {
    const batch = [];
    for (let j = i; j < i + 500; j++) for (let k = 0; k < per; k++) batch.push(s.consume(`10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`, 0));
    await Promise.all(batch);
  }
  const after = await mem();
  out.push(`${name}: ${N} keys, used_memory delta per key = ${((after - before) / N).toFixed(1)} B`);
  await s.close();
}
console.log(out.join('\n'));
a.disconnect();
await r.stop();
