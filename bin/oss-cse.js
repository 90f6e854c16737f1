#!/usr/bin/env node
// CLI entry: runs the compiled CLI (npm ci builds it through the `prepare` script; or run `npm run build`).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
