// The denylist agent: blocks requests by client IP/CIDR, path prefix and User-Agent pattern.
// Lists come from the config pushed in the handshake or from --config FILE (reloaded on SIGHUP);
// the latest accepted config wins. An invalid config is rejected and the previous one stays.
import type { Agent, RequestHeadersEvent } from '../../src/sdk/index.ts';
import { allow, block, createAgent } from '../../src/sdk/index.ts';
import type { CompiledDenylist } from './rules.ts';
import { compileDenylist, matchRequest } from './rules.ts';

export interface DenylistAgentOptions {
  /** Called with the errors of a rejected config (for logging). */
  onRejectedConfig?: (errors: string[]) => void;
}

export function createDenylistAgent(opts: DenylistAgentOptions = {}): Agent {
  let rules: CompiledDenylist | null = null;
  const evaluate = (ev: RequestHeadersEvent) => {
    if (rules === null) return allow();
    const m = matchRequest(rules, ev.metadata.client_ip, ev.uri, ev.headers['user-agent'] ?? []);
    if (m === null) return allow();
    return block(rules.status, rules.body).rule(`denylist.${m.rule}`).reason(`DENYLIST_${m.rule.toUpperCase()}`).tag('denylist').custom('matched', m.value);
  };
  return createAgent({
    name: 'denylist',
    version: '0.1.0',
    onConfigure: (config) => {
      const r = compileDenylist(config);
      if (!r.ok) {
        opts.onRejectedConfig?.(r.errors);
        return false;
      }
      rules = r.value;
      return true;
    },
    onRequestHeaders: evaluate,
  });
}
