#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm install` (the prepare script), and
// bundled into one file (dist/vmrun.mjs): loading ~100 ES modules one by one cost ~45 ms of start-up.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/vmrun.mjs', import.meta.url);
const entry = existsSync(bundle) ? bundle.href : '../dist/src/cli/main.js';
import(entry).then((m) => m.main(process.argv)).catch((e) => {
  process.stderr.write(`vmrun: ${e && e.message ? e.message : e}\n`);
  process.exit(2);
});
