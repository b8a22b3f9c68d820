// node agents/echo/main.ts --socket PATH [--grpc HOST:PORT]
import { runAgent } from '../lib/run.ts';
import { createEchoAgent } from './echo.ts';

await runAgent(createEchoAgent());
