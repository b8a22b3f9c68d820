// Response and request header policy, black-box: security headers on by default and configurable
// per route (HSTS never on a plain-HTTP listener), the Server header removed, replaced or relayed,
// and per-route header rules (set, add, remove, rename; request and response) in the order written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';
import { startUpstream } from '../../spec/helpers/upstream.ts';
import type { Upstream } from '../../spec/helpers/upstream.ts';
import { parseHeads, rawExchange, startProxy, stopAll } from './raw.ts';

let up: Upstream;
let proxy: SentinelProcess;
let port: number;

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    res.setHeader('Server', 'Apache/2.4.41 (Ubuntu)');
    res.setHeader('X-Powered-By', 'PHP/8.1');
    res.setHeader('X-Up', 'u');
    if (req.url?.includes('frame')) res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.headers));
  });
  ({ proxy, port } = await startProxy(`
routes {
  route "defaults" { matches { path-prefix "/d" }; upstream "up" }
  route "custom" {
    matches { path-prefix "/c" }
    upstream "up"
    policies {
      security-headers { x-frame-options "DENY"; referrer-policy #false; strict-transport-security "max-age=63072000; includeSubDomains" }
      server-header "edge"
    }
  }
  route "off" { matches { path-prefix "/off" }; upstream "up"; policies { security-headers #false; server-header #true } }
  route "rules" {
    matches { path-prefix "/r" }
    upstream "up"
    policies {
      request-headers {
        rename { "X-Old" "X-New" }
        set { "X-Api-Version" "2" }
        add { "X-Added" "a" }
        remove "X-Internal"
      }
      response-headers {
        set { "Cache-Control" "no-store" }
        add { "X-Resp" "r1"; "X-Resp" "r2" }
        remove "X-Powered-By"
        rename { "X-Up" "X-Down" }
      }
    }
  }
  route "local" { matches { path-prefix "/local" }; builtin-handler "not-found"; policies { response-headers { set { "X-Local" "yes" } } } }
}
upstreams { upstream "up" { target "${up.address}" } }
`));
}, 60_000);

afterAll(() => stopAll(proxy, up));

async function one(path: string, extra = '') {
  const r = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: a\r\n${extra}Connection: close\r\n\r\n`);
  const h = parseHeads(r.text)[0];
  expect(h, r.text).toBeDefined();
  return h as { status: number; headers: Record<string, string>; body: string };
}

describe('security headers', () => {
  it('are on by default, except HSTS on a plain-HTTP listener; the upstream Server is removed', async () => {
    const r = await one('/d');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(r.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
    expect(r.headers['strict-transport-security']).toBeUndefined();
    expect(r.headers['server']).toBeUndefined();
  });

  it('never override what the upstream sent', async () => {
    expect((await one('/d/frame')).headers['x-frame-options']).toBe('DENY');
  });

  it('are configurable per route: a value replaces the default, #false removes one', async () => {
    const r = await one('/c');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['referrer-policy']).toBeUndefined();
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['strict-transport-security']).toBeUndefined();
    expect(r.headers['server']).toBe('edge');
  });

  it('security-headers #false turns them off; server-header #true relays the upstream\'s', async () => {
    const r = await one('/off');
    expect(r.headers['x-content-type-options']).toBeUndefined();
    expect(r.headers['x-frame-options']).toBeUndefined();
    expect(r.headers['referrer-policy']).toBeUndefined();
    expect(r.headers['server']).toBe('Apache/2.4.41 (Ubuntu)');
  });

  it('apply to local replies of the route too', async () => {
    const r = await one('/local');
    expect(r.status).toBe(404);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-local']).toBe('yes');
  });
});

describe('header rules', () => {
  it('change the upstream request: rename, set, add, remove, in the order written', async () => {
    const r = await one('/r', 'X-Old: o\r\nX-Api-Version: 1\r\nX-Added: client\r\nX-Internal: secret\r\n');
    const seen = JSON.parse(r.body) as Record<string, string>;
    expect(seen['x-new']).toBe('o');
    expect(seen['x-old']).toBeUndefined();
    expect(seen['x-api-version']).toBe('2');
    expect(seen['x-added']).toBe('client, a');
    expect(seen['x-internal']).toBeUndefined();
  });

  it('change the response: set, add (repeatable), remove, rename', async () => {
    const r = await one('/r');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['x-resp']).toBe('r1, r2');
    expect(r.headers['x-powered-by']).toBeUndefined();
    expect(r.headers['x-down']).toBe('u');
    expect(r.headers['x-up']).toBeUndefined();
  });

  it('do not touch other routes', async () => {
    const r = await one('/d', 'X-Internal: kept\r\n');
    expect((JSON.parse(r.body) as Record<string, string>)['x-internal']).toBe('kept');
    expect(r.headers['x-powered-by']).toBe('PHP/8.1');
  });
});
