// `observability { }`: metrics endpoint and logging.
import type { LogLevel } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { suggestionHint } from '../diagnostics.ts';
import { checkBlockNode, error, q, readAddress, readBool, readString, walkBlock } from './reader.ts';
import type { Ctx } from './reader.ts';

export interface ObsAcc {
  metrics: { enabled: boolean; host: string; port: number; path: string };
  metricsAddressNode: LNode | undefined;
  level: LogLevel;
  accessLog: { enabled: boolean; destination: string };
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function readObservability(ctx: Ctx, block: LNode, acc: ObsAcc): void {
  const path = 'observability';
  checkBlockNode(ctx, block, path);
  walkBlock(ctx, block, path, {
    label: 'observability',
    keys: {
      metrics: (n, p) => {
        checkBlockNode(ctx, n, p);
        walkBlock(ctx, n, p, {
          label: 'observability metrics',
          keys: {
            enabled: (c, cp) => {
              acc.metrics.enabled = readBool(ctx, c, cp) ?? acc.metrics.enabled;
            },
            address: (c, cp) => {
              const a = readAddress(ctx, c, cp, 0);
              if (a !== undefined) {
                acc.metrics.host = a.host;
                acc.metrics.port = a.port;
                acc.metricsAddressNode = c;
              }
            },
            path: (c, cp) => {
              const s = readString(ctx, c, cp);
              if (s === undefined) return;
              if (!s.startsWith('/')) error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `metrics path must start with "/", got ${q(s)}`, cp);
              else acc.metrics.path = s;
            },
          },
          notImplemented: ['high-cardinality'],
        });
      },
      logging: (n, p) => {
        checkBlockNode(ctx, n, p);
        walkBlock(ctx, n, p, {
          label: 'observability logging',
          keys: {
            level: (c, cp) => {
              const s = readString(ctx, c, cp);
              if (s === undefined) return;
              const lower = s.toLowerCase();
              if ((LOG_LEVELS as readonly string[]).includes(lower)) acc.level = lower as LogLevel;
              else error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `invalid log level ${q(s)}`, cp, suggestionHint(lower, LOG_LEVELS, 'valid values'));
            },
            format: (c, cp) => {
              const s = readString(ctx, c, cp);
              if (s === undefined || s === 'json') return;
              error(ctx, c, c.args[0]?.pos ?? c.pos, 'not-implemented', `log format ${q(s)} is not implemented yet (only "json")`, cp);
            },
            'access-log': (c, cp) => {
              checkBlockNode(ctx, c, cp);
              walkBlock(ctx, c, cp, {
                label: 'observability logging access-log',
                keys: {
                  enabled: (d, dp) => {
                    acc.accessLog.enabled = readBool(ctx, d, dp) ?? acc.accessLog.enabled;
                  },
                  file: (d, dp) => {
                    const s = readString(ctx, d, dp);
                    if (s === undefined) return;
                    if (s === '' || s.includes('\0')) error(ctx, d, d.args[0]?.pos ?? d.pos, 'invalid-value', 'access-log file must be "stdout", "stderr" or a file path', dp);
                    else acc.accessLog.destination = s;
                  },
                },
                notImplemented: ['format', 'buffer-size'],
              });
            },
          },
          notImplemented: ['error-log', 'audit-log'],
        });
      },
    },
    notImplemented: ['tracing'],
  });
}

// ---------- admin ----------
