import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CATALOGUE_LIST, PROCESS_METRICS, PROCESS_METRIC_RE } from '../../src/observability/catalogue.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { deploymentMetrics } from '../../src/deployments/metrics.ts';
import { renderMetricsDoc } from '../../src/observability/render-doc.ts';
import { rateLimitMetrics } from '../../src/pipeline/rate-limit.ts';
import { registerAgentMetrics } from '../../src/agents/metrics.ts';

describe('metric catalogue', () => {
  it('docs/metrics.md is the current rendering of the catalogue', () => {
    const committed = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
    expect(committed, 'run: node scripts/render-metrics-doc.ts').toBe(renderMetricsDoc());
  });

  it('names follow sentinel_<area>_<thing>_<unit> and are unique', () => {
    const names = CATALOGUE_LIST.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of CATALOGUE_LIST) {
      expect(m.name).toMatch(/^sentinel_[a-z0-9_]+$/);
      if (m.type === 'counter') expect(m.name).toMatch(/_total$/);
      if (m.unit === 'seconds') expect(m.name).toMatch(/_seconds$/);
    }
  });

  it('the registry exposes exactly the catalogue (plus the documented process prefix)', async () => {
    const m = new Metrics();
    // Feature areas register their metrics at start-up, as startProxy does.
    deploymentMetrics(m);
    rateLimitMetrics(m);
    registerAgentMetrics(m);
    // Touch every labelled metric once so it has a series.
    m.route('r').done('GET', 200, 0.01);
    m.upstreamOutcome('u', '127.0.0.1:1', 'success');
    m.error('ROUTE_NOT_FOUND');
    m.activeConnections.labels('l').inc();
    m.connectionsRejected.labels('l').inc();
    m.initLimits('l');
    m.setBuildInfo('0.0.0', 'abc');
    m.reloaded('applied');
    m.setGeneration(1);
    m.dropped('access');
    m.audited('parser', 'reject');
    m.tracingSpans.labels('recorded').inc();
    const text = await m.registry.metrics();
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1] as string).filter((n) => !PROCESS_METRIC_RE.test(n)));
    expect([...exposed].sort()).toEqual(CATALOGUE_LIST.filter((c) => c.scope !== 'primary').map((c) => c.name).sort());
    expect(text).toContain('sentinel_process_resident_memory_bytes');
  });

  it('process metrics: the registry exposes exactly the documented list, with the documented types and labels', async () => {
    const m = new Metrics();
    await new Promise((r) => setTimeout(r, 50));
    const text = await m.registry.metrics();
    const exposed = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].filter((x) => PROCESS_METRIC_RE.test(x[1] as string)).map((x) => `${x[1]} ${x[2]}`);
    expect(exposed.sort()).toEqual(PROCESS_METRICS.map((p) => `${p.name} ${p.type}`).sort());
    for (const p of PROCESS_METRICS) {
      const labels = new Set([...text.matchAll(new RegExp(`^${p.name}(?:_bucket|_sum|_count)?\\{([^}]*)\\}`, 'gm'))]
        .flatMap((x) => (x[1] as string).split(',').map((kv) => kv.split('=')[0] as string)).filter((l) => l !== 'le'));
      for (const l of labels) expect(p.labels, `${p.name} label ${l}`).toContain(l);
    }
  });

  it('folds unknown methods into OTHER so method labels stay bounded', async () => {
    const m = new Metrics({ processMetrics: false });
    m.route('r').done('BREW', 418, 0.001);
    expect(await m.registry.metrics()).toContain('sentinel_requests_total{route="r",method="OTHER",status="418"} 1');
  });
});
