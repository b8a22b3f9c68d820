#!/usr/bin/env node
// Entry point of the echo agent (sources are TypeScript run directly by Node >= 22.18).
import '../agents/echo/main.ts';
