// "sentinel started" is the readiness signal tests and operators wait for: once it is logged, every
// signal handler must be installed. A SIGHUP right after it must reload, never kill (Node's default).
import { describe, expect, it } from 'vitest';
import { startSentinel } from '../helpers/sentinel-process.ts';

const CONFIG = `
listeners { listener "main" { address "127.0.0.1:0" } }
routes { route "h" { matches { path-prefix "/" }; builtin-handler "health" } }
observability { metrics { enabled #false }; logging { level "info"; access-log { enabled #false } } }
`;

describe('signals after readiness', () => {
  it('a SIGHUP sent the moment readiness is logged is handled as a reload', async () => {
    const p = await startSentinel(CONFIG, { listeners: ['main'] });
    try {
      p.child.kill('SIGHUP');
      while (!p.stderr().includes('config reload: unchanged')) {
        if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`sentinel died on SIGHUP (${p.child.signalCode ?? p.child.exitCode})`);
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(p.child.exitCode).toBeNull();
    } finally {
      await p.stop();
    }
  });
});
