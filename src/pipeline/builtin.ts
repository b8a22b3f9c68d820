// Builtin route handlers: answers Sentinel gives itself (`builtin-handler "status"` and friends).
import type { BuiltinHandler } from '../config/types.ts';
import type { Exchange, RouteHandler } from './exchange.ts';

function serveMetrics(ex: Exchange): void {
  const registry = ex.ctx.metrics.registry;
  registry.metrics().then((text) => {
    if (ex.finished || ex.res.destroyed) return;
    ex.reply(200, ['content-type', registry.contentType, 'cache-control', 'no-store'], text);
  }, () => ex.fail('INTERNAL_ERROR'));
}

function serveStatus(ex: Exchange): void {
  const { ctx, snapshot } = ex;
  ex.replyJson(200, {
    name: 'sentinel',
    version: ctx.version,
    uptime_secs: Math.round((Date.now() - ctx.startedAtMs) / 1000),
    generation: snapshot.generation,
    config_hash: snapshot.hash,
    listeners: [...snapshot.listeners.keys()],
    routes: snapshot.config.routes.length,
    upstreams: [...snapshot.upstreams.keys()],
  });
}

/**
 * Readiness: the config is loaded (this generation serves) and every upstream a route uses has at
 * least one healthy target (active verdict, not ejected, breaker admits; a target that is only busy
 * still counts). 503 with the upstreams that have none otherwise.
 */
function serveReady(ex: Exchange): void {
  const snapshot = ex.snapshot;
  const used = new Set<string>();
  for (const r of snapshot.config.routes) if (r.action.kind === 'upstream') used.add(r.action.upstream);
  const unavailable: string[] = [];
  for (const id of used) {
    const u = snapshot.upstreams.get(id);
    if (u === undefined || u.usableCount() === 0) unavailable.push(id);
  }
  if (unavailable.length === 0) ex.replyJson(200, { status: 'ready', generation: snapshot.generation });
  else ex.replyJson(503, { status: 'not_ready', generation: snapshot.generation, unavailable_upstreams: unavailable.sort() });
}

/** Health summary of every upstream and target: health, breaker, ejection, in flight. */
function serveUpstreams(ex: Exchange): void {
  const upstreams: Record<string, unknown> = {};
  for (const [id, u] of ex.snapshot.upstreams) upstreams[id] = u.summary();
  ex.replyJson(200, { generation: ex.snapshot.generation, upstreams });
}

export class BuiltinRouteHandler implements RouteHandler {
  readonly kind = 'builtin';
  readonly handler: BuiltinHandler;

  constructor(handler: BuiltinHandler) {
    this.handler = handler;
  }

  handle(ex: Exchange): void {
    const method = ex.req.method;
    if (method !== 'GET' && method !== 'HEAD' && this.handler !== 'not-found') {
      // Read-only answers: a POST to /health is a client mistake worth seeing, not a 200.
      ex.fail('METHOD_NOT_ALLOWED', ['allow', 'GET, HEAD']);
      return;
    }
    switch (this.handler) {
      case 'health':
        ex.replyJson(200, { status: 'ok' });
        return;
      case 'status':
        serveStatus(ex);
        return;
      case 'ready':
        serveReady(ex);
        return;
      case 'upstreams':
        serveUpstreams(ex);
        return;
      case 'metrics':
        serveMetrics(ex);
        return;
      case 'not-found':
        ex.fail('ROUTE_NOT_FOUND');
        return;
    }
  }
}
