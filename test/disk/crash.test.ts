import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crashCampaign, WRITER } from './crash-harness.js';
import { NO_DIST, vmrun } from './helpers.js';

const READY = fs.existsSync(WRITER);
if (!READY) process.stderr.write(`[disk tests] skipping crash tests: ${NO_DIST}\n`);

const KILLS = Number(process.env.VMRUN_CRASH_KILLS ?? 100);
const SEED = Number(process.env.VMRUN_CRASH_SEED ?? 20240601);

describe.skipIf(!READY)('SIGKILL during writes', () => {
  it.concurrent.each(['dynamic', 'differencing'] as const)('%s image survives every kill with flushed writes intact', async (kind) => {
    const r = await crashCampaign(kind, KILLS, SEED + (kind === 'dynamic' ? 0 : 1), { every: 10, run: (f) => vmrun('disk', 'check', f).status });
    process.stderr.write(`[disk crash] ${kind}: ${r.kills} kills, ${r.ackedWrites} flushed writes, ${r.sectorsVerified} sectors verified\n`);
    expect(r.failures).toEqual([]);
    expect(r.kills).toBe(KILLS);
    expect(r.ackedWrites).toBeGreaterThan(0);
  });
});
