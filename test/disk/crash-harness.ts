import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkImage, createImage, openImage } from '../../src/disk/index.js';
import { identify, payload, SECTOR, Workload } from './crash-pattern.js';
import { Rng, ROOT, tempDir } from './helpers.js';

export const WRITER = path.join(ROOT, 'dist', 'test', 'disk', 'crash-writer.js');

export interface CampaignResult {
  kills: number;
  ackedWrites: number;
  sectorsVerified: number;
  failures: string[];
}

const DISK_SIZE = 4 << 20;
const BLOCK = 8192;
const BATCH = 4;
const FRESH_EVERY = 6;

/**
 * Repeatedly starts the writer on one image, kills it with SIGKILL at a random moment, then
 * checks the image and verifies every sector: flushed writes must be there, in-flight ones may
 * or may not be. Every few kills the image is recreated so block allocation stays frequent.
 */
export async function crashCampaign(
  kind: 'dynamic' | 'differencing',
  kills: number,
  seed: number,
  cliCheck?: { every: number; run: (image: string) => number },
): Promise<CampaignResult> {
  const dir = tempDir(`crash-${kind}`);
  const rng = new Rng(seed);
  const res: CampaignResult = { kills: 0, ackedWrites: 0, sectorsVerified: 0, failures: [] };
  let image = '';
  let model: Int32Array = new Int32Array(0);
  let nextId = 1;
  try {
    for (let k = 0; k < kills && res.failures.length === 0; k++) {
      if (k % FRESH_EVERY === 0) ({ image, model } = freshImage(dir, kind, k, rng, () => nextId++));
      const runSeed = rng.next();
      const firstId = nextId;
      // Mostly mid-workload; one kill in ten lands anywhere, including during open.
      const early = rng.int(10) === 0;
      const out = await runAndKill(image, runSeed, firstId, early ? rng.int(150) : rng.int(40), early);
      res.kills++;
      const acked = Math.max(firstId, ...[...out.matchAll(/ACK (\d+)/g)].map((m) => Number(m[1])));
      res.ackedWrites += acked - firstId;
      const check = checkImage(image);
      if (check.problems.length) res.failures.push(`kill ${k}: check: ${check.problems.join('; ')}`);
      if (cliCheck && k % cliCheck.every === 0) {
        const status = cliCheck.run(image);
        if (status !== 0) res.failures.push(`kill ${k}: vmrun disk check exited ${status}`);
      }
      const err = verify(image, model, new Workload(runSeed, firstId, model.length), acked, BATCH);
      if (typeof err === 'string') res.failures.push(`kill ${k} (seed ${runSeed}, acked ${acked}): ${err}`);
      else res.sectorsVerified += err;
      nextId = acked + BATCH;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

function freshImage(dir: string, kind: string, k: number, rng: Rng, takeId: () => number): { image: string; model: Int32Array } {
  const base = path.join(dir, `base-${k}.vhd`);
  createImage(base, { size: DISK_SIZE, blockSize: BLOCK });
  const model = new Int32Array(openImage(base, { readOnly: true }).device.size / SECTOR);
  if (kind === 'dynamic') return { image: base, model };
  // The differencing child's parent carries its own data, which must keep showing through.
  const b = openImage(base);
  const w = new Workload(rng.next(), 0, model.length);
  for (let i = 0; i < 200; i++) {
    const spec = w.next();
    spec.id = takeId();
    b.device.write(payload(spec), spec.sector * SECTOR);
    for (let s = 0; s < spec.count; s++) model[spec.sector + s] = spec.id;
  }
  b.device.close();
  const child = path.join(dir, `child-${k}.vhd`);
  createImage(child, { parent: base, blockSize: BLOCK });
  return { image: child, model };
}

function runAndKill(image: string, seed: number, firstId: number, delayMs: number, fromSpawn: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [WRITER, image, String(seed), String(firstId), String(BATCH)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let t: NodeJS.Timeout | undefined;
    const arm = () => (t ??= setTimeout(() => p.kill('SIGKILL'), delayMs));
    if (fromSpawn) arm();
    p.stdout.on('data', (d) => {
      out += d;
      if (out.includes('READY')) arm();
    });
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(t);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own (${code}): ${err}`));
      else resolve(out);
    });
  });
}

/** Returns the number of sectors verified, or a description of the first lost write. */
function verify(image: string, model: Int32Array, work: Workload, acked: number, batch: number): number | string {
  const maybe = new Map<number, Set<number>>();
  for (;;) {
    const w = work.next();
    if (w.id >= acked + batch) break;
    for (let s = w.sector; s < w.sector + w.count; s++) {
      if (w.id < acked) {
        model[s] = w.id;
        maybe.get(s)?.clear();
      } else {
        let set = maybe.get(s);
        if (!set) maybe.set(s, (set = new Set()));
        set.add(w.id);
      }
    }
  }
  const img = openImage(image, { readOnly: true });
  try {
    const all = new Uint8Array(img.device.size);
    img.device.read(all, 0);
    for (let s = 0; s < model.length; s++) {
      const got = identify(all.subarray(s * SECTOR, (s + 1) * SECTOR), s);
      const want = model[s]!;
      if (got === want) continue;
      if (got > 0 && maybe.get(s)?.has(got)) {
        model[s] = got;
        continue;
      }
      return `sector ${s} holds ${got < 0 ? 'garbage' : `write ${got}`}, expected write ${want}${maybe.get(s)?.size ? ` or one of ${[...maybe.get(s)!].join(',')}` : ''}`;
    }
    return model.length;
  } finally {
    img.device.close();
  }
}
