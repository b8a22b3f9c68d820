// `system { }`: process-wide settings.
import type { TraceIdFormat } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { checkBlockNode, readBool, readEnum, readInt, readSecsAsMs, walkBlock } from './reader.ts';
import type { Ctx } from './reader.ts';

export interface SystemAcc {
  autoReload: boolean;
  workerThreads: number;
  reusePort: boolean;
  /** The `reuse-port` node, for cross-checks against the listeners. */
  reusePortNode?: LNode;
  maxConnections: number;
  gracefulShutdownTimeoutMs: number;
  traceIdFormat: TraceIdFormat;
}

export function readSystem(ctx: Ctx, block: LNode, acc: SystemAcc): void {
  const path = 'system';
  checkBlockNode(ctx, block, path);
  walkBlock(ctx, block, path, {
    label: 'system',
    keys: {
      'worker-threads': (n, p) => {
        const v = readInt(ctx, n, p, 0, 1024);
        if (v === undefined) return;
        acc.workerThreads = v;
      },
      'reuse-port': (n, p) => {
        const v = readBool(ctx, n, p);
        if (v === undefined) return;
        acc.reusePort = v;
        acc.reusePortNode = n;
      },
      'max-connections': (n, p) => {
        const v = readInt(ctx, n, p, 1, 10_000_000);
        if (v !== undefined) acc.maxConnections = v;
      },
      'graceful-shutdown-timeout-secs': (n, p) => {
        const v = readSecsAsMs(ctx, n, p);
        if (v !== undefined) acc.gracefulShutdownTimeoutMs = v;
      },
      'trace-id-format': (n, p) => {
        const v = readEnum<TraceIdFormat>(ctx, n, p, ['uuid', 'tinyflake']);
        if (v !== undefined) acc.traceIdFormat = v;
      },
      'auto-reload': (n, p) => {
        const v = readBool(ctx, n, p);
        if (v !== undefined) acc.autoReload = v;
      },
    },
    notImplemented: ['daemon', 'pid-file', 'user', 'group', 'working-directory', 'route-cache-size'],
  });
}
