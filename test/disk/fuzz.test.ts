import { describe, expect, it } from 'vitest';
import { runFuzz } from './fuzz-core.js';

const CASES = Number(process.env.VMRUN_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.VMRUN_FUZZ_SEED ?? 424242);

describe('fuzzed VHD files', () => {
  it(`${CASES} mutated images through open/info/convert/check without crash or hang`, () => {
    const r = runFuzz(CASES, SEED);
    process.stderr.write(`[disk fuzz] ${r.cases} cases: ${r.opened} opened, ${r.rejected} rejected cleanly, ${r.fileCases} also via files, slowest ${r.maxMs.toFixed(1)} ms\n`);
    expect(r.failures).toEqual([]);
    expect(r.cases).toBe(CASES);
    expect(r.maxMs).toBeLessThan(5000);
    // The corpus must reach past the checksums, or the fuzzer tests nothing but them.
    expect(r.opened).toBeGreaterThan(CASES / 10);
  });
});
