// Dashboards and Prometheus rules, checked three ways: statically against the metric catalogue,
// with promtool (check + unit tests), and live: a real Prometheus scrapes a running Sentinel under
// load and faults, and every panel query and recording rule must return data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { CATALOGUE_LIST } from '../../src/observability/catalogue.ts';
import type { MetricSpec } from '../../src/observability/catalogue.ts';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { closedPort, startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import {
  RULES_FILE, RULES_TEST_FILE, RUNBOOKS_DIR, knownMetrics, knownMetricsWithRules, loadDashboards, loadRules,
  metricNames, panelQueries, parseRules, substituteVariables, unknownMetrics, variableQueries,
} from './promql.ts';
import type { GrafanaDashboard, KnownMetrics } from './promql.ts';
import { hasData, run, startPrometheus } from './prometheus.ts';
import type { PrometheusProcess, QueryResult } from './prometheus.ts';

const dashboards = loadDashboards();
const rules = loadRules();
const known = knownMetricsWithRules(rules);

/** Every unknown metric name in a dashboard (panels and variable queries), as "panel: name". */
function dashboardProblems(d: GrafanaDashboard, k: KnownMetrics, file = 'x.json'): string[] {
  const problems: string[] = [];
  for (const q of panelQueries(file, d)) {
    if (q.expr.trim() === '') problems.push(`${q.panel}/${q.refId}: empty expression`);
    for (const n of unknownMetrics(substituteVariables(q.expr), k)) problems.push(`${q.panel}/${q.refId}: ${n}`);
  }
  for (const v of variableQueries(d)) for (const n of unknownMetrics(v.expr, k)) problems.push(`$${v.name}: ${n}`);
  return problems;
}

describe('metric names in PromQL', () => {
  it.each([
    ['sum by (route) (rate(sentinel_requests_total{route=~"$route",status=~"5.."}[5m]))', ['sentinel_requests_total']],
    ['histogram_quantile(0.99, sum by (le, route) (rate(a_bucket[1m])))', ['a_bucket']],
    ['a / on (job) group_left (version) b', ['a', 'b']],
    ['a and ignoring(x) b unless c or d', ['a', 'b', 'c', 'd']],
    ['label_replace(x, "dst", "${1}xx", "src", "(foo_bar)..")', ['x']],
    ['bare_metric', ['bare_metric']],
    ['rate(m[5m] offset 1h)', ['m']],
    ['count without (instance) (m @ start())', ['m']],
    ['{__name__="by_name", job="j"}', ['by_name']],
    ['sentinel:request_errors:ratio_rate5m / 0.001 > 1e3', ['sentinel:request_errors:ratio_rate5m']],
    ['vector(1) + scalar(up) - Inf * NaN', ['up']],
    ['m{label="}{[not_a_metric]"} # comment_not_a_metric', ['m']],
    ['topk(5, sum by (upstream) (rate(u{outcome!="success"}[$__rate_interval])))', ['u']],
  ])('%s', (expr, expected) => {
    expect(metricNames(substituteVariables(expr)).sort()).toEqual([...expected].sort());
  });

  it('only catalogue series are known: histogram suffixes yes, bare histogram or suffixed counter no', () => {
    const k = knownMetrics();
    expect(unknownMetrics('rate(sentinel_request_duration_seconds_bucket[1m])', k)).toEqual([]);
    expect(unknownMetrics('sentinel_request_duration_seconds_sum / sentinel_request_duration_seconds_count', k)).toEqual([]);
    expect(unknownMetrics('sentinel_request_duration_seconds', k)).toEqual(['sentinel_request_duration_seconds']);
    expect(unknownMetrics('sentinel_requests_total_bucket', k)).toEqual(['sentinel_requests_total_bucket']);
    expect(unknownMetrics('up + sentinel_process_cpu_seconds_total + sentinel_nodejs_eventloop_lag_p99_seconds', k)).toEqual([]);
    expect(unknownMetrics('nodejs_eventloop_lag_p99_seconds', k)).toEqual(['nodejs_eventloop_lag_p99_seconds']);
    expect(unknownMetrics('sentinel_process_resident_memory_byte + sentinel_nodejs_gc_duration_seconds_bucket', k)).toEqual(['sentinel_process_resident_memory_byte']);
    expect(unknownMetrics('sentinel:request_errors:ratio_rate5m', k)).toEqual(['sentinel:request_errors:ratio_rate5m']);
    expect(unknownMetrics('sentinel:request_errors:ratio_rate5m', known)).toEqual([]);
  });

  it('grows with the catalogue: a metric becomes usable once it is declared', () => {
    const future: MetricSpec = { name: 'sentinel_breaker_state', type: 'gauge', help: '', labels: ['upstream'], unit: 'state' };
    const expr = 'max by (upstream) (sentinel_breaker_state)';
    expect(unknownMetrics(expr, knownMetrics())).toEqual(['sentinel_breaker_state']);
    expect(unknownMetrics(expr, knownMetrics([...CATALOGUE_LIST, future]))).toEqual([]);
  });
});

describe('dashboards use only catalogue metrics', () => {
  it('there are dashboards and each has panels with queries, a datasource variable, and uses exactly the variables it declares', () => {
    expect([...dashboards.keys()].sort()).toEqual(['agents.json', 'overview.json', 'security.json', 'slo.json', 'upstreams.json']);
    for (const [file, d] of dashboards) {
      expect(panelQueries(file, d).length, file).toBeGreaterThan(0);
      const vars = d.templating?.list ?? [];
      expect(vars.find((v) => v.name === 'datasource')?.type, file).toBe('datasource');
      const declared = variableQueries(d).map((v) => v.name).sort();
      const used = [...new Set(panelQueries(file, d).flatMap((q) => [...q.expr.matchAll(/\$(?!__)([a-zA-Z_]\w*)|\$\{(?!__)([a-zA-Z_]\w*)\}/g)].map((m) => (m[1] ?? m[2]) as string)))].sort();
      expect(used, `${file}: variables used by panels`).toEqual(declared);
    }
    expect(variableQueries(dashboards.get('overview.json') as GrafanaDashboard).find((v) => v.name === 'route')?.expr).toBe('sentinel_requests_total');
  });

  it('every panel query parses as PromQL (promtool check rules over the queries, variables substituted)', async () => {
    const queries = [...dashboards].flatMap(([file, d]) => panelQueries(file, d).map((q) => ({ what: `${file} / ${q.panel} / ${q.refId}`, expr: substituteVariables(q.expr) })));
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-panels-'));
    try {
      const file = join(dir, 'panels.yml');
      writeFileSync(file, `groups:\n  - name: panels\n    rules:\n${queries.map((q, i) => `      - record: panel_${i}\n        expr: ${JSON.stringify(q.expr)}\n`).join('')}`);
      const r = await run('promtool', ['check', 'rules', file]);
      expect(r.code, `${r.stdout}${r.stderr}\n${queries.map((q, i) => `panel_${i}: ${q.what}`).join('\n')}`).toBe(0);
      expect(r.stdout + r.stderr).toContain(`SUCCESS: ${queries.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const [file, d] of dashboards) {
    it(`${file}: every panel and variable query names only known metrics`, () => {
      expect(dashboardProblems(d, known, file)).toEqual([]);
    });
  }

  it('a panel on a metric that is not in the catalogue is reported (negative case)', () => {
    const overview = dashboards.get('overview.json') as GrafanaDashboard;
    const tampered: GrafanaDashboard = {
      ...overview,
      panels: [...overview.panels, {
        id: 999, type: 'row', title: 'row', panels: [
          { id: 1000, type: 'timeseries', title: 'Breakers', targets: [{ refId: 'A', expr: 'sum by (upstream) (rate(sentinel_breaker_opened_total{route=~"$route"}[$__rate_interval]))' }] },
        ],
      }],
    };
    expect(dashboardProblems(tampered, known)).toEqual(['Breakers/A: sentinel_breaker_opened_total']);
    const badVariable: GrafanaDashboard = { ...overview, templating: { list: [{ name: 'up', type: 'query', query: { query: 'label_values(sentinel_upstream_health, upstream)' } }] } };
    expect(dashboardProblems(badVariable, known)).toEqual(['$up: sentinel_upstream_health']);
  });
});

describe('rules', () => {
  it('every rule expression names only known metrics; a rule on an unknown metric is reported', () => {
    const problems = rules.flatMap((r) => unknownMetrics(r.expr, known).map((n) => `${r.name}: ${n}`));
    expect(problems).toEqual([]);
    const bad = parseRules('groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: |\n          rate(sentinel_made_up_total[5m])\n          > 0\n');
    expect(bad.flatMap((r) => unknownMetrics(r.expr, known))).toEqual(['sentinel_made_up_total']);
  });

  it('every alert has a runbook in docs/runbooks/<alert>.md and a summary', () => {
    const alerts = rules.filter((r) => r.kind === 'alert');
    expect(alerts.length).toBeGreaterThanOrEqual(9);
    for (const a of alerts) {
      expect(a.annotations.runbook_url, a.name).toBe(`docs/runbooks/${a.name}.md`);
      expect(existsSync(`${RUNBOOKS_DIR}${a.name}.md`), `${RUNBOOKS_DIR}${a.name}.md`).toBe(true);
      expect(a.annotations.summary, a.name).toBeTruthy();
    }
  });

  it('promtool check rules accepts the file and counts the same rules this suite reads', async () => {
    const r = await run('promtool', ['check', 'rules', RULES_FILE]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('promtool test rules: every alert fires when it should and not when it should not', async () => {
    const r = await run('promtool', ['test', 'rules', RULES_TEST_FILE], dirname(RULES_TEST_FILE));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
    // Each alert appears in the unit tests both firing (exp_alerts with labels) and silent (exp_alerts: []).
    const tests = readFileSync(RULES_TEST_FILE, 'utf8');
    for (const a of rules.filter((x) => x.kind === 'alert')) {
      const blocks = tests.split(/- alertname: /).slice(1).filter((b) => b.startsWith(`${a.name}\n`));
      expect(blocks.some((b) => /exp_alerts:\s*\[\]/.test(b)), `${a.name} silent case`).toBe(true);
      expect(blocks.some((b) => /exp_labels:/.test(b)), `${a.name} firing case`).toBe(true);
    }
  });
});

// --- live ------------------------------------------------------------------------------------

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('close', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Opens `count` idle connections at once, waits until each is connected or closed, closes them all. */
async function connectionBurst(port: number, count: number): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: count }, () => new Promise<Socket>((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    s.once('connect', () => resolve(s));
    s.once('close', () => resolve(s));
  })));
  // Give the server a moment to accept (or reject) every one before releasing them.
  await new Promise((r) => setTimeout(r, 100));
  for (const s of sockets) s.destroy();
}

const MAX_CONNECTIONS = 32;

describe('live: a real Prometheus scraping a running Sentinel', () => {
  let upstream: Upstream;
  let proxy: SentinelProcess;
  let prom: PrometheusProcess;
  let stopTraffic = false;
  let traffic: Promise<void> = Promise.resolve();
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      const delayMs = req.url?.startsWith('/slow') === true ? 300 : 0;
      const status = req.url?.startsWith('/missing') === true ? 404 : 200;
      setTimeout(() => { res.writeHead(status, { 'content-type': 'text/plain' }); res.end('ok'); }, delayMs);
    });
    const refused = await closedPort();
    proxy = await startSentinel(`
system { max-connections ${MAX_CONNECTIONS} }
listeners { listener "main" { address "127.0.0.1:0" } }
routes {
  route "app" { matches { path-prefix "/" }; upstream "app" }
  route "broken" { matches { path-prefix "/broken" }; upstream "broken" }
}
upstreams {
  upstream "app" { target "${upstream.address}" }
  upstream "broken" { target "127.0.0.1:${refused}" }
}
observability { metrics { enabled #true; address "127.0.0.1:0" } }
`, { listeners: ['main'], metrics: true });
    prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${proxy.metricsPort as number}`], ruleFiles: [RULES_FILE] });
    const port = proxy.ports.get('main') as number;
    // Load with faults: mostly 200s, 404s from the upstream, 502s from the refused upstream, some
    // slow requests, and bursts of idle connections above max-connections (rejected at accept).
    traffic = (async () => {
      let n = 0;
      while (!stopTraffic) {
        if (n % 50 === 0) await connectionBurst(port, MAX_CONNECTIONS + 8);
        const paths = ['/a', '/b', '/c', '/d', '/e', '/missing', '/broken', n % 5 === 0 ? '/slow' : '/g'];
        const codes = await Promise.all(paths.map((p) => get(port, p)));
        for (const c of codes) statuses.set(c, (statuses.get(c) ?? 0) + 1);
        n++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  }, 60_000);

  afterAll(async () => {
    stopTraffic = true;
    await traffic;
    await prom?.stop();
    await proxy?.stop();
    await upstream?.close();
  });

  it('Prometheus loaded every rule group without errors and scrapes Sentinel', async () => {
    interface RulesResp { data: { groups: { name: string; rules: { name: string; type: string; health: string; lastError?: string }[] }[] } }
    const fetchRules = async () => (await prom.api<RulesResp>('/api/v1/rules')).data.groups.flatMap((g) => g.rules);
    // Poll until every rule has been evaluated once (health leaves "unknown").
    let loaded = await fetchRules();
    while (loaded.length === 0 || loaded.some((x) => x.health === 'unknown')) {
      await new Promise((res) => setTimeout(res, 250));
      loaded = await fetchRules();
    }
    expect(loaded.map((x) => x.name).sort()).toEqual(rules.map((x) => x.name).sort());
    expect(loaded.filter((x) => x.health !== 'ok')).toEqual([]);
    while (!hasData(await prom.query('up{job="sentinel"} == 1'))) await new Promise((res) => setTimeout(res, 250));
  }, 60_000);

  it('every dashboard panel query and every recording rule returns data', async () => {
    const queries = [
      ...[...dashboards].flatMap(([file, d]) => panelQueries(file, d).map((q) => ({ what: `${file} / ${q.panel} / ${q.refId}`, expr: substituteVariables(q.expr) }))),
      ...[...dashboards].flatMap(([file, d]) => variableQueries(d).map((v) => ({ what: `${file} / $${v.name}`, expr: v.expr }))),
      ...rules.filter((r) => r.kind === 'record').flatMap((r) => [
        { what: `rule ${r.name} (expr)`, expr: r.expr },
        { what: `rule ${r.name} (recorded series)`, expr: r.name },
      ]),
    ];
    const pending = new Map(queries.map((q) => [q.what, q.expr]));
    const last = new Map<string, QueryResult>();
    const errors: string[] = [];
    // Poll until every query has data; a query error fails at once. The test timeout bounds the wait.
    const deadline = Date.now() + 100_000;
    while (pending.size > 0 && Date.now() < deadline) {
      for (const [what, expr] of pending) {
        const r = await prom.query(expr);
        last.set(what, r);
        if (r.status === 'error') { errors.push(`${what}: ${r.error}\n  ${expr}`); pending.delete(what); }
        else if (hasData(r)) pending.delete(what);
      }
      if (pending.size > 0) await new Promise((res) => setTimeout(res, 500));
    }
    expect(errors).toEqual([]);
    const noData = [...pending].map(([what, expr]) => `${what}: ${JSON.stringify(last.get(what))}\n  ${expr}`);
    expect(noData, `statuses sent: ${JSON.stringify([...statuses])}\n${prom.stderr()}`).toEqual([]);
    // The faults really happened: the availability SLI sees the 502s, connections were rejected.
    expect(statuses.get(502) ?? 0).toBeGreaterThan(0);
    expect(hasData(await prom.query('sentinel_connections_rejected_total > 0'))).toBe(true);
    const errRatio = await prom.query('sentinel:request_errors:ratio_rate5m{job="sentinel"}');
    expect(hasData(errRatio)).toBe(true);
    if (errRatio.status === 'success') {
      const v = Number((errRatio.data.result as { value: [number, string] }[])[0]?.value[1]);
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(1);
    }
  }, 150_000);
});
