#!/usr/bin/env node
// Entry point. Sources are TypeScript with erasable syntax only, so Node >= 22.18 runs them directly.
import '../src/cli/main.ts';
