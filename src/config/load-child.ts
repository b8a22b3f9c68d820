// Child entry for `loadConfigIsolated`: reads a LoadRequest as JSON on stdin, writes the
// LoadResult as JSON on stdout, exits 0. Any failure is a non-zero exit.
import { loadConfigFile, loadConfigText } from './load.ts';
import type { LoadRequest } from './isolated.ts';

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadRequest;
const result = request.kind === 'file' ? await loadConfigFile(request.path) : loadConfigText(request.text, request.file);
process.stdout.write(JSON.stringify(result), () => process.exit(0));
