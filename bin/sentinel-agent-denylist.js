#!/usr/bin/env node
// Entry point of the denylist agent (sources are TypeScript run directly by Node >= 22.18).
import '../agents/denylist/main.ts';
