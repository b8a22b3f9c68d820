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

export class BuiltinRouteHandler implements RouteHandler {
  readonly kind = 'builtin';
  readonly handler: BuiltinHandler;

  constructor(handler: BuiltinHandler) {
    this.handler = handler;
  }

  handle(ex: Exchange): void {
    switch (this.handler) {
      case 'health':
        ex.replyJson(200, { status: 'ok' });
        return;
      case 'status':
        serveStatus(ex);
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
