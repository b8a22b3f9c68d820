// The echo agent: adds X-Echo-* request headers describing what it saw. Useful to check that an
// agent is wired, and as the benchmark agent (the smallest possible round trip).
import type { Agent, RequestHeadersEvent } from '../../src/sdk/index.ts';
import { allow, createAgent } from '../../src/sdk/index.ts';

export function pathOf(uri: string): string {
  const q = uri.indexOf('?');
  return q === -1 ? uri : uri.slice(0, q);
}

export function echoHeaders(ev: RequestHeadersEvent) {
  return allow()
    .setRequestHeader('X-Echo-Correlation-Id', ev.metadata.correlation_id)
    .setRequestHeader('X-Echo-Method', ev.method)
    .setRequestHeader('X-Echo-Path', pathOf(ev.uri))
    .setRequestHeader('X-Echo-Client-Ip', ev.metadata.client_ip);
}

export function createEchoAgent(): Agent {
  return createAgent({ name: 'echo', version: '0.1.0', onRequestHeaders: echoHeaders });
}
