/** Long crash campaign: node dist/test/disk/crash-soak.js [KILLS_PER_KIND] [SEED] */
import { crashCampaign } from './crash-harness.js';

const kills = Number(process.argv[2] ?? 2000);
const seed = Number(process.argv[3] ?? Date.now() % 1e9);
for (const kind of ['dynamic', 'differencing'] as const) {
  const t = Date.now();
  const r = await crashCampaign(kind, kills, seed);
  console.log(JSON.stringify({ kind, seed, ...r, seconds: (Date.now() - t) / 1000 }));
  if (r.failures.length) process.exitCode = 1;
}
