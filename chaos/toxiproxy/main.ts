// CLI: node chaos/toxiproxy/main.ts [--host 127.0.0.1] [--port 8474] [--config proxies.json]
// Like toxiproxy-server; --config takes the same JSON array as POST /populate.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createToxiproxyServer } from './server.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8474' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node chaos/toxiproxy/main.ts [--host 127.0.0.1] [--port 8474] [--config proxies.json]');
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port ${values.port}`);
  const server = await createToxiproxyServer({ host: values.host, port });
  console.log(`toxiproxy API listening on ${server.url}`);
  if (values.config !== undefined) {
    const body = await readFile(values.config, 'utf8');
    const res = await fetch(`${server.url}/populate`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    const text = await res.text();
    if (!res.ok) {
      await server.close();
      throw new Error(`populate from ${values.config} failed: ${res.status} ${text}`);
    }
    console.log(`populated proxies from ${values.config}`);
  }
  const shutdown = (): void => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  console.error(`toxiproxy: ${(err as Error).message}`);
  process.exit(1);
});
