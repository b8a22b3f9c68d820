// `direct`: no proxy, the load generator hits the backend itself. The ceiling every proxy is compared with.
import type { Scenario } from './types.ts';

export const directScenario: Scenario = {
  name: 'direct',
  description: 'no proxy: load generator straight to the backend (the ceiling)',
  unavailableReason: () => null,
  start: async (ctx) => ({ url: `http://${ctx.backend.host}:${ctx.backend.port}`, pids: [], stop: async () => {} }),
};
