// Rate-limit micro-benchmark: what a local rate-limit filter costs per request on its own (key
// extraction, token bucket, metrics), without the proxy around it.
//
//   node bench/micro/ratelimit.ts            # measure, print (with the ratio to the committed baseline), write the baseline
//   node bench/micro/ratelimit.ts --no-write # measure and print only
//
// Cases: the whole filter decision (`onRequest`) with a client-ip key and one client; the same
// with 10,000 clients in turn (a Map of 10,000 buckets, LRU touches); a `client-ip,path` key; and
// the token bucket alone. The limit is never reached: the figures are the admit path.
import { Metrics } from '../../src/observability/metrics.ts';
import { RateLimitFilter, rateLimitMetrics } from '../../src/pipeline/rate-limit.ts';
import type { Exchange } from '../../src/pipeline/exchange.ts';
import { compileRateLimitHeaders } from '../../src/ratelimit/headers.ts';
import { compileKeyExtractor } from '../../src/ratelimit/key.ts';
import { TokenBucketStore } from '../../src/ratelimit/token-bucket.ts';
import { runCases } from './lib.ts';

const NEVER = 1e9;
const metrics = new Metrics({ processMetrics: false });

function filter(key: string): RateLimitFilter {
  return new RateLimitFilter({
    id: key, store: new TokenBucketStore({ maxRps: NEVER, burst: NEVER }), synchronous: true, extract: compileKeyExtractor(key),
    onLimit: 'reject', statusCode: 429, message: null, maxDelayMs: 1, maxDelayedRequests: 1,
    headers: compileRateLimitHeaders({ name: 'b', quota: NEVER, windowS: 1, legacyHeaders: false }),
    responseHeaders: false, metrics: rateLimitMetrics(metrics).filter(key), now: () => performance.now(),
  });
}

/** The fields of an exchange the filter reads on the admit path. */
function exchange(clientIp: string, path: string): Exchange {
  return { clientIp, path, query: null, route: null, headers: {}, finished: false } as unknown as Exchange;
}

const one = exchange('203.0.113.7', '/api/items');
const many = Array.from({ length: 10_000 }, (_, i) => exchange(`10.0.${(i >> 8) & 255}.${i & 255}`, '/api/items'));
const byIp = filter('client-ip');
const byIpMany = filter('client-ip');
const byIpPath = filter('client-ip,path');
const bucket = new TokenBucketStore({ maxRps: NEVER, burst: NEVER });
let i = 0;

const cases: Record<string, () => number> = {
  'filter-client-ip': () => (byIp.onRequest(one) === true ? 1 : 0),
  'filter-client-ip-10k': () => (byIpMany.onRequest(many[i++ % many.length] as Exchange) === true ? 1 : 0),
  'filter-client-ip,path': () => (byIpPath.onRequest(one) === true ? 1 : 0),
  'token-bucket-only': () => bucket.consume('203.0.113.7', performance.now()).remaining,
};

runCases('ratelimit', cases);
