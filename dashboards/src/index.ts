// Every dashboard, by file name under dashboards/. Add a dashboard here (and a file beside this one).
import { renderDashboard } from './grafana.ts';
import type { DashboardSpec } from './grafana.ts';
import { AGENTS } from './agents.ts';
import { OVERVIEW } from './overview.ts';
import { SECURITY } from './security.ts';
import { SLO } from './slo.ts';
import { UPSTREAMS } from './upstreams.ts';

export const DASHBOARDS: Readonly<Record<string, DashboardSpec>> = {
  'overview.json': OVERVIEW,
  'slo.json': SLO,
  'upstreams.json': UPSTREAMS,
  'agents.json': AGENTS,
  'security.json': SECURITY,
};

/** File name → rendered JSON text. */
export function renderDashboards(): Map<string, string> {
  return new Map(Object.entries(DASHBOARDS).map(([file, d]) => [file, renderDashboard(d)]));
}
