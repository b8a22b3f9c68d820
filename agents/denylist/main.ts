// node agents/denylist/main.ts --socket PATH [--grpc HOST:PORT] [--config FILE]
import { runAgent } from '../lib/run.ts';
import { createDenylistAgent } from './denylist.ts';

await runAgent(createDenylistAgent({ onRejectedConfig: (errors) => process.stderr.write(`denylist: config rejected: ${errors.join('; ')}\n`) }));
