// Header-sanitising micro-benchmark: the one-pass filter the forward path runs on every request
// and response head (src/core/headers.ts filterHeaders, src/pipeline/header-ops.ts applyHeaderOps).
//
//   node bench/micro/headers.ts            # measure, print (with the ratio to the committed baseline), write the baseline
//   node bench/micro/headers.ts --no-write # measure and print only
//
// Cases: a typical browser request head (12 fields), the same with a Connection header naming two
// fields (the slow path: a token set is built), a small response head (6 fields), and the route
// header rules of a hardened route (5 ops: security headers as defaults, a set, a remove).
import { filterHeaders } from '../../src/core/headers.ts';
import type { HeaderCollector } from '../../src/core/headers.ts';
import { applyHeaderOps } from '../../src/pipeline/header-ops.ts';
import type { HeaderOp } from '../../src/pipeline/header-ops.ts';
import { runCases } from './lib.ts';

const BROWSER = [
  'Host', 'app.example.com', 'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/130.0',
  'Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'Accept-Language', 'en-US,en;q=0.5',
  'Accept-Encoding', 'gzip, deflate, br, zstd', 'Connection', 'keep-alive', 'Cookie', 'session=abc123; theme=dark',
  'Upgrade-Insecure-Requests', '1', 'Sec-Fetch-Dest', 'document', 'Sec-Fetch-Mode', 'navigate', 'X-Forwarded-For', '198.51.100.7',
  'Priority', 'u=0, i',
];
const NAMED = [...BROWSER.slice(0, 10), 'Connection', 'keep-alive, x-debug, x-internal', 'X-Debug', '1', 'X-Internal', 'secret', ...BROWSER.slice(12)];
const RESPONSE = ['Content-Type', 'text/html; charset=utf-8', 'Content-Length', '1234', 'Date', 'Mon, 07 Dec 2026 01:00:00 GMT',
  'Cache-Control', 'no-cache', 'Via', '1.1 upstream', 'Connection', 'keep-alive'];
const REWRITTEN_REQUEST: ReadonlySet<string> = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'via', 'traceparent', 'tracestate']);
const REWRITTEN_RESPONSE: ReadonlySet<string> = new Set(['via', 'x-request-id']);
const RULES: readonly HeaderOp[] = [
  { op: 'default', name: 'X-Content-Type-Options', value: 'nosniff' },
  { op: 'default', name: 'X-Frame-Options', value: 'DENY' },
  { op: 'default', name: 'Referrer-Policy', value: 'strict-origin-when-cross-origin' },
  { op: 'set', name: 'Server', value: 'sentinel' },
  { op: 'remove', name: 'X-Powered-By' },
];

const collector: HeaderCollector = { collect() { /* the exchange merges these; here they are dropped */ } };

const cases: Record<string, () => number> = {
  'request-12': () => filterHeaders(BROWSER, [], REWRITTEN_REQUEST, collector).length,
  'request-connection-named': () => filterHeaders(NAMED, [], REWRITTEN_REQUEST, collector).length,
  'response-6': () => filterHeaders(RESPONSE, [], REWRITTEN_RESPONSE, collector).length,
  'route-rules-5': () => applyHeaderOps(RESPONSE.slice(0, 8), RULES).length,
};

runCases('headers', cases);
