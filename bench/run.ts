/** `npm run bench`: every benchmark in turn, each printing its own JSON. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
let status = 0;
for (const b of ['cpu.js', 'compile.js', 'disk.js', 'boot.js']) {
  const r = spawnSync(process.execPath, [here + b, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) status = r.status ?? 1;
}
process.exit(status);
