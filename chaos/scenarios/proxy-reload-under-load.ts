// Sentinel's config is reloaded (SIGHUP) again and again while clients keep sending requests.
import { Agent } from 'node:http';
import { drillConfig } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { startLoad } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

const RELOADS = 5;
const PAUSE_MS = 10;
const WORKERS = 6;

export const scenario: Scenario<Drill> = {
  name: 'proxy-reload-under-load',
  area: 'proxy',
  fault: `${RELOADS} config reloads (SIGHUP), switching the upstream between two targets, under ${WORKERS} keep-alive clients (each pausing ${PAUSE_MS} ms between requests)`,
  expectation:
    `0 failed requests: every response 200 from target A or B, both seen; sentinel_config_reloads_total{result="applied"} +${RELOADS}; ` +
    `sentinel_config_generation +${RELOADS}`,
  ci: true,
  timeoutMs: 90_000,
  async run(d) {
    const a = await d.upstream((_req, res) => res.end('A'));
    const b = await d.upstream((_req, res) => res.end('B'));
    const config = (target: string): string => drillConfig({ targets: [target] });
    const s = await d.sentinel(config(a.address));
    const agent = new Agent({ keepAlive: true, maxSockets: WORKERS });
    d.defer(() => agent.destroy());
    const before = await s.metrics();
    d.progress(`load: ${WORKERS} clients`);
    const load = startLoad(s.port, '/', WORKERS, { agent, timeoutMs: 10_000, pauseMs: PAUSE_MS });
    for (let i = 0; i < RELOADS; i++) {
      const outcome = await s.reload(config(i % 2 === 0 ? b.address : a.address));
      d.progress(`reload ${i + 1}/${RELOADS}: ${outcome} (${load.count()} requests so far)`);
      if (outcome !== 'config reloaded') throw new Error(`reload ${i + 1}: ${outcome}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const outcomes = await load.stop();
    const after = await s.metrics();
    const bodies = new Set(outcomes.map((o) => o.body?.toString('utf8')));
    d.expectOutcomes('requests', 'all 200 A or B', outcomes, (o) => o.status === 200 && o.complete && (o.body?.toString('utf8') === 'A' || o.body?.toString('utf8') === 'B'));
    d.check('targets answering', 'A and B', [...bodies].filter((x) => x !== undefined).sort().join(' and '), bodies.has('A') && bodies.has('B'));
    d.expectDelta(before, after, 'sentinel_config_reloads_total', { result: 'applied' }, RELOADS);
    d.expectDelta(before, after, 'sentinel_config_generation', {}, RELOADS);
  },
};
