#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm install` (the prepare script).
import('../dist/src/cli/main.js').then((m) => m.main(process.argv)).catch((e) => {
  process.stderr.write(`vmrun: ${e && e.message ? e.message : e}\n`);
  process.exit(2);
});
