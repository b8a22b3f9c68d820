// What the compile step hands to each area's builder: the config, the registry of long-lived
// state, the metrics, and `acquire`, which records every registry key the snapshot takes so that
// `releaseSnapshot` gives back exactly those.
import type { Config } from '../config/types.ts';
import type { Registry, Resource } from '../runtime/registry.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Logger } from '../observability/log.ts';

export interface CompileContext {
  readonly config: Config;
  readonly registry: Registry;
  readonly metrics: Metrics;
  /** The process log, for long-lived state that reports events (agent connections); null in tests. */
  readonly logger: Logger | null;
  /** The proxy's version (sent to agents in the handshake). */
  readonly version: string;
  /** `registry.acquire`, recorded for release when the snapshot's generation is retired. */
  acquire<T extends Resource>(key: string, create: () => T): T;
}

export function createCompileContext(config: Config, registry: Registry, metrics: Metrics, logger: Logger | null = null, version = '0.0.0'): { cc: CompileContext; acquired: string[] } {
  const acquired: string[] = [];
  const cc: CompileContext = {
    config,
    registry,
    metrics,
    logger,
    version,
    acquire<T extends Resource>(key: string, create: () => T): T {
      const v = registry.acquire(key, create);
      acquired.push(key);
      return v;
    },
  };
  return { cc, acquired };
}
