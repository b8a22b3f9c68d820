// Dashboards and Prometheus rules, checked three ways: statically against the metric catalogue,
// with promtool (check + unit tests), and live: a real Prometheus scrapes a running Sentinel under
// load and faults, and every panel query and recording rule must return data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CATALOGUE_LIST } from '../../src/observability/catalogue.ts';
import type { MetricSpec } from '../../src/observability/catalogue.ts';
import { agentBackend, redisBackend } from '../helpers/containers.ts';
import { startScenario } from './scenario.ts';
import type { Scenario } from './scenario.ts';
import {
  RULES_FILE, RULES_TEST_FILE, RUNBOOKS_DIR, knownMetrics, knownMetricsWithRules, loadDashboards, loadRules,
  metricNames, panelQueries, parseRules, substituteVariables, unknownMetrics, variableQueries,
} from './promql.ts';
import type { GrafanaDashboard, KnownMetrics } from './promql.ts';
import { hasData, rangeValues, run, startPrometheus } from './prometheus.ts';
import type { PrometheusProcess, RangeResult } from './prometheus.ts';

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

  it('dashboards/README.md lists every alert (its table is the runbook index) and every recorded series', () => {
    const readme = readFileSync(new URL('../../dashboards/README.md', import.meta.url), 'utf8');
    const alertRows = new Set([...readme.matchAll(/^\| `(Sentinel\w+)` \|/gm)].map((m) => m[1]));
    expect(rules.filter((r) => r.kind === 'alert').map((r) => r.name).filter((a) => !alertRows.has(a))).toEqual([]);
    // Series of one family are written once with their windows in braces: `…:ratio_rate{5m,30m,1h,6h}`.
    const mentioned = (name: string): boolean => readme.includes(`\`${name}\``) || readme.includes(`\`${name.replace(/(5m|30m|1h|6h)$/, '')}{`);
    expect(rules.filter((r) => r.kind === 'record' && !mentioned(r.name)).map((r) => r.name)).toEqual([]);
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

/** Series that prove each fault of the scenario really happened (not just a series at 0). */
const FAULTS_SEEN: ReadonlyArray<readonly [string, string]> = [
  ['connections refused at max-connections', 'sentinel_connections_rejected_total > 0'],
  ['dead target ejected', 'sentinel_upstream_ejections_total{upstream="pool",result="enforced"} > 0'],
  ['dead target breaker opened', 'sentinel_upstream_breaker_transitions_total{upstream="pool",state="open"} > 0'],
  ['connect failures retried', 'sentinel_upstream_retries_total{upstream="pool",reason="UPSTREAM_CONNECT_FAILED"} > 0'],
  ['503s retried', 'sentinel_upstream_retries_total{upstream="flaky",reason="status_503"} > 0'],
  ['retry budget exhausted', 'sentinel_upstream_retry_budget_exhausted_total{upstream="flaky"} > 0'],
  ['failed health checks', 'sentinel_upstream_health_checks_total{upstream="broken",result="fail"} > 0'],
  ['503 no_healthy', 'sentinel_upstream_unavailable_total{upstream="broken",reason="no_healthy"} > 0'],
  ['503 queue_full', 'sentinel_upstream_unavailable_total{upstream="narrow",reason="queue_full"} > 0'],
  ['discovery refresh failed', 'sentinel_upstream_discovery_refreshes_total{upstream="discovered",result="failed"} > 0'],
  ['agent blocks', 'sentinel_agent_calls_total{agent="deny",outcome="block"} > 0'],
  ['agent timeouts', 'sentinel_agent_timeouts_total{agent="echo"} > 0'],
  ['agent bypasses', 'sentinel_agent_bypasses_total{agent="echo",reason=~"timeout|circuit_open"} > 0'],
  ['agent breaker opened', 'sentinel_agent_breaker_state{agent="echo"} == 2'],
  ['agent reconnects', 'sentinel_agent_reconnects_total{agent="echo"} > 0'],
  ['agent header changes refused', 'sentinel_agent_header_mutations_rejected_total{agent="inspect"} > 0'],
  ['rate-limit rejects', 'sentinel_ratelimit_decisions_total{filter="per-ip",outcome="rejected"} > 0'],
  ['rate-limit delays', 'sentinel_ratelimit_decisions_total{filter="paced",outcome="delayed"} > 0'],
  ['rate-limit keys evicted', 'sentinel_ratelimit_local_evictions_total{filter="per-key"} > 0'],
  ['Redis decisions', 'sentinel_ratelimit_decisions_total{filter="redis-live",source="redis"} > 0'],
  ['Redis fallback', 'sentinel_ratelimit_fallback_active{filter="redis-down"} == 1'],
  ['Redis calls timed out while it stalled', 'sentinel_ratelimit_redis_errors_total{filter="redis-stalls",kind="timeout"} > 0'],
  ['back on Redis after the stall', 'sentinel_ratelimit_redis_errors_total{filter="redis-stalls",kind="timeout"} > 0 and on (filter) sentinel_ratelimit_fallback_active{filter="redis-stalls"} == 0'],
  ['body limit', 'sentinel_limits_triggered_total{limit="body_bytes"} > 0'],
  ['smuggling refused by the parser', 'sentinel_audit_events_total{component="parser",action="reject"} > 0'],
  ['plain HTTP on the TLS port', 'sentinel_tls_handshake_errors_total{reason="not_tls"} > 0'],
  ['HTTP/2 client resets', 'sentinel_http2_client_resets_total > 0'],
  ['WebSocket tunnel open', 'sentinel_websocket_tunnels{route="ws"} > 0'],
];

/**
 * Alerts the scenario's faults must set off, with the labels they must carry (and no other value of
 * that label). They are pending, not firing: every `for` is longer than this test.
 */
const ALERTS_EXPECTED: ReadonlyArray<{ readonly alert: string; readonly only?: readonly [string, readonly string[]]; readonly why: string }> = [
  { alert: 'SentinelUpstreamAllDown', only: ['upstream', ['broken']], why: 'the only target of "broken" fails its health checks; "pool" keeps its live target' },
  { alert: 'SentinelUpstreamQueueFull', only: ['upstream', ['narrow']], why: 'three concurrent requests to a one-connection, one-pending pool' },
  { alert: 'SentinelUpstreamRetryBudgetExhausted', only: ['upstream', ['flaky']], why: '"flaky" always answers 503 with a 10% retry budget' },
  { alert: 'SentinelAgentFailing', only: ['agent', ['echo']], why: '"echo" is frozen 2.5 s out of every 6 (timeouts, open breaker); "deny" and "inspect" answer' },
  { alert: 'SentinelRateLimitRedisFallback', only: ['filter', ['redis-down', 'redis-stalls']], why: 'the Redis of "redis-down" is a closed port, that of "redis-stalls" stalls; "redis-live" reaches its Redis' },
  { alert: 'SentinelRateLimitKeysEvicted', only: ['filter', ['per-key']], why: 'twelve requests a round, each with a key the four-key store does not hold' },
  { alert: 'SentinelConnectionsRejected', why: 'bursts of busy connections above max-connections' },
  { alert: 'SentinelHighGatewayErrorRate', why: '"broken", "flaky" and the full "narrow" answer 503 in every round: about 10% of responses' },
  { alert: 'SentinelAvailabilityBurnRateFast', why: '"broken" and "flaky" answer 503 in every round: several % of responses, far above 14.4 × 0.1%' },
  { alert: 'SentinelAvailabilityBurnRateSlow', why: 'the same 503s, above 6 × 0.1%' },
  { alert: 'SentinelLatencyBurnRateFast', why: 'each connection burst holds 64 requests for 1.5 s: far more than 14.4 × 0.1% of requests over 1 s' },
  { alert: 'SentinelLatencyBurnRateSlow', why: 'the same slow requests, above 6 × 0.1%' },
];

/**
 * Alerts this test does not judge either way, with the reason. Every other alert must stay silent
 * from the first scrape on; among them those that look back over a window (SentinelUpstreamBreakerOpen,
 * SentinelAgentUnavailable: not closed / not healthy at any scrape in 5 minutes;
 * SentinelUpstreamDiscoveryFailing: no good refresh in 10 minutes) see the stack at rest first, so
 * the dead target of "pool", the frozen agent and the broken discovery file must not be enough.
 */
const ALERTS_UNJUDGED: Readonly<Record<string, string>> = {
  SentinelEventLoopLagHigh: 'event-loop lag depends on how loaded the machine running the test is, not on the scenario',
};

/** The step of the range queries over the run: the scrape and evaluation interval. */
const STEP_S = 1;

/** What a range query showed: no data at all, only zeros, or (at some step) a value other than 0. */
function judge(r: RangeResult): 'error' | 'no data' | 'only 0' | 'non-zero' {
  if (r.status === 'error') return 'error';
  const values = rangeValues(r);
  if (values.length === 0) return 'no data';
  return values.some((v) => v !== 0) ? 'non-zero' : 'only 0';
}

describe('live: a real Prometheus scraping a running Sentinel under load and faults', () => {
  let scenario: Scenario | undefined;
  let prom: PrometheusProcess | undefined;
  let promStartedS = 0;
  let loadStartedS = 0;

  beforeAll(async () => {
    scenario = await startScenario();
    promStartedS = Math.floor(Date.now() / 1000);
    prom = await startPrometheus({ scrapeTargets: [scenario.metricsTarget], ruleFiles: [RULES_FILE] });
    // Three scrapes of the stack at rest first: what an alert looking back over a window sees
    // before the faults (a fresh Prometheus has no history, a real one has).
    while (!hasData(await prom.query('count_over_time(up{job="sentinel"}[1m]) >= 3'))) await new Promise((res) => setTimeout(res, 250));
    loadStartedS = Math.floor(Date.now() / 1000);
    scenario.startLoad();
  }, 90_000);

  afterAll(async () => {
    await scenario?.stopLoad();
    await prom?.stop();
    await scenario?.close();
  }, 60_000);

  it('Prometheus loaded every rule group without errors and scrapes Sentinel', async () => {
    const p = prom as PrometheusProcess;
    interface RulesResp { data: { groups: { name: string; rules: { name: string; type: string; health: string; lastError?: string }[] }[] } }
    const fetchRules = async () => (await p.api<RulesResp>('/api/v1/rules')).data.groups.flatMap((g) => g.rules);
    // Poll until every rule has been evaluated once (health leaves "unknown").
    let loaded = await fetchRules();
    while (loaded.length === 0 || loaded.some((x) => x.health === 'unknown')) {
      await new Promise((res) => setTimeout(res, 250));
      loaded = await fetchRules();
    }
    expect(loaded.map((x) => x.name).sort()).toEqual(rules.map((x) => x.name).sort());
    expect(loaded.filter((x) => x.health !== 'ok')).toEqual([]);
    while (!hasData(await p.query('up{job="sentinel"} == 1'))) await new Promise((res) => setTimeout(res, 250));
  }, 60_000);

  it('the alert lists below name alerts of the rules file, each once', () => {
    const alerts = rules.filter((r) => r.kind === 'alert').map((r) => r.name);
    const classified = [...ALERTS_EXPECTED.map((a) => a.alert), ...Object.keys(ALERTS_UNJUDGED)];
    expect(classified.filter((a) => !alerts.includes(a)), 'classified alerts that do not exist').toEqual([]);
    expect(new Set(classified).size).toBe(classified.length);
  });

  it('every fault happened; every dashboard panel query and recording rule returns data and shows something other than 0; the right alerts are pending and no other', async () => {
    const p = prom as PrometheusProcess;
    const s = scenario as Scenario;
    // What must be seen: data (a finite sample) and a value other than 0 at some step of the run. A
    // panel that reads 0 all along shows nothing: its fault did not happen, or its query selects the
    // wrong series (or hides an empty result behind `or vector(0)`). Variable queries only need
    // series (their values do not matter, their label values do). No panel or rule is exempt.
    interface Check { readonly what: string; readonly expr: string; readonly nonZero: boolean }
    const checks: Check[] = [
      ...[...dashboards].flatMap(([file, d]) => panelQueries(file, d).map((q) => ({ what: `${file} / ${q.panel} / ${q.refId}`, expr: substituteVariables(q.expr), nonZero: true }))),
      ...[...dashboards].flatMap(([file, d]) => variableQueries(d).map((v) => ({ what: `${file} / $${v.name}`, expr: v.expr, nonZero: false }))),
      ...rules.filter((r) => r.kind === 'record').flatMap((r) => [
        { what: `rule ${r.name} (expr)`, expr: r.expr, nonZero: true },
        { what: `rule ${r.name} (recorded series)`, expr: r.name, nonZero: true },
      ]),
      ...FAULTS_SEEN.map(([what, expr]) => ({ what: `fault: ${what}`, expr, nonZero: true })),
      ...ALERTS_EXPECTED.flatMap((a) => (a.only === undefined ? [''] : a.only[1].map((v) => `,${a.only?.[0] ?? ''}="${v}"`)).map((labels) => ({
        what: `alert ${a.alert}${labels} pending`,
        expr: `ALERTS{alertname="${a.alert}"${labels}}`,
        nonZero: true,
      }))),
    ];
    const pending = new Map(checks.map((c) => [c.what, c]));
    const last = new Map<string, RangeResult>();
    const errors: string[] = [];
    const metAfterS = new Map<string, number>();
    // Poll (range queries over the whole run, one step per scrape) until every check is met; a query
    // error fails at once. The deadline only bounds the wait.
    const startedAt = Date.now();
    const deadline = startedAt + 180_000;
    while (pending.size > 0 && Date.now() < deadline) {
      for (const [what, c] of pending) {
        const r = await p.queryRange(c.expr, loadStartedS, Date.now() / 1000, STEP_S);
        last.set(what, r);
        const verdict = judge(r);
        if (r.status === 'error') { errors.push(`${what}: ${r.error}\n  ${c.expr}`); pending.delete(what); continue; }
        if (verdict === 'non-zero' || (verdict === 'only 0' && !c.nonZero)) {
          pending.delete(what);
          metAfterS.set(what, Date.now() / 1000 - loadStartedS);
        }
      }
      if (pending.size > 0) await new Promise((res) => setTimeout(res, 1000));
    }
    const slowest = [...metAfterS].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([what, t]) => `${what} (${t.toFixed(0)} s)`);
    const backends = `redis-server: ${await redisBackend()}, agents: ${await agentBackend()}`;
    process.stdout.write(`live check (${backends}): ${metAfterS.size}/${checks.length} checks met after ${Math.round(Date.now() / 1000 - loadStartedS)} s of load; last: ${slowest.join('; ')}\n`);
    expect(errors).toEqual([]);
    const unmet = [...pending].map(([what, c]) => {
      const r = last.get(what);
      return `${what}: ${r === undefined ? 'not queried' : judge(r)}\n  ${c.expr}`;
    });
    expect(unmet, `statuses: ${JSON.stringify([...s.statuses])}; faults: ${JSON.stringify(s.faults)}\n${p.stderr()}`).toEqual([]);

    // No alert outside ALERTS_EXPECTED (and ALERTS_UNJUDGED) was pending or firing at any step since
    // Prometheus started, and the expected ones only with their label.
    const endS = Date.now() / 1000;
    const spurious: string[] = [];
    for (const a of rules.filter((r) => r.kind === 'alert')) {
      if (a.name in ALERTS_UNJUDGED) continue;
      const expected = ALERTS_EXPECTED.find((x) => x.alert === a.name);
      if (expected !== undefined && expected.only === undefined) continue;
      const selector = `ALERTS{alertname="${a.name}"${expected?.only !== undefined ? `,${expected.only[0]}!~"${expected.only[1].join('|')}"` : ''}}`;
      const r = await p.queryRange(selector, promStartedS, endS, STEP_S);
      if (r.status === 'success') spurious.push(...r.data.result.map((x) => JSON.stringify(x.metric)));
      else spurious.push(`${selector}: ${r.error}`);
    }
    expect(spurious).toEqual([]);

    // The judge tells the cases apart on the same data: a label value that does not exist has no
    // data; a series that exists but never moved (the scenario reloads nothing) is only 0; a query
    // error is an error.
    expect(judge(await p.queryRange('sentinel_requests_total{route="no-such-route"}', loadStartedS, endS, STEP_S))).toBe('no data');
    expect(judge(await p.queryRange('sentinel_config_reloads_total{result="rejected"}', loadStartedS, endS, STEP_S))).toBe('only 0');
    expect(judge(await p.queryRange('sum(rate(sentinel_requests_total[1m]', loadStartedS, endS, STEP_S))).toBe('error');

    // Clients saw the faults: 5xx, 429 (rate limit), 403 (denylist), 413 (body limit).
    const seen = (pred: (status: number) => boolean): number => [...s.statuses].filter(([c]) => pred(c)).reduce((a, [, n]) => a + n, 0);
    expect(seen((c) => c >= 500)).toBeGreaterThan(0);
    for (const c of [429, 403, 413]) expect(s.statuses.get(c) ?? 0, `status ${c}`).toBeGreaterThan(0);
    for (const [k, n] of Object.entries(s.faults)) expect(n, k).toBeGreaterThan(0);
    // The availability SLI sees the errors, and is a ratio.
    const errRatio = await p.query('sentinel:request_errors:ratio_rate5m{job="sentinel"}');
    expect(hasData(errRatio)).toBe(true);
    if (errRatio.status === 'success') {
      const v = Number((errRatio.data.result as { value: [number, string] }[])[0]?.value[1]);
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(1);
    }
  }, 240_000);
});
