/**
 * Disk throughput: sequential and random 4 KiB reads and writes on a dynamic VHD against a
 * raw image of the same size, through the BlockDevice interface device models use.
 * Prints JSON. Run: npx tsc -p . && node dist/bench/disk.js [SIZE_MIB]
 * Files live in the OS temp directory and are mostly in the page cache, so this measures
 * the format layer's overhead more than the storage underneath.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BlockDevice } from '../src/disk/block-device.js';
import { FdFile } from '../src/disk/image-file.js';
import { createImage, openImage } from '../src/disk/index.js';
import { RawDisk } from '../src/disk/raw-disk.js';

const SIZE = Number(process.argv[2] ?? 128) << 20;
const IO = 4096;
const RANDOM_OPS = 20_000;

interface Figure {
  mibPerSec: number;
  iops: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function measure(ops: number, body: (i: number) => void, after?: () => void): Figure {
  const t = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) body(i);
  after?.();
  const sec = Number(process.hrtime.bigint() - t) / 1e9;
  return { mibPerSec: round((ops * IO) / sec / 2 ** 20), iops: Math.round(ops / sec) };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function workload(dev: BlockDevice): Record<string, Figure> {
  const buf = new Uint8Array(IO).fill(0x5a);
  const n = dev.size / IO;
  const out: Record<string, Figure> = {};
  let r = rng(1);
  out.randomWriteFresh = measure(RANDOM_OPS, () => dev.write(buf, (r() % n) * IO), () => dev.flush());
  out.sequentialWrite = measure(n, (i) => dev.write(buf, i * IO), () => dev.flush());
  out.sequentialRead = measure(n, (i) => dev.read(buf, i * IO));
  r = rng(2);
  out.randomWrite = measure(RANDOM_OPS, () => dev.write(buf, (r() % n) * IO), () => dev.flush());
  r = rng(3);
  out.randomRead = measure(RANDOM_OPS, () => dev.read(buf, (r() % n) * IO));
  return out;
}

const ROUNDS = 5;

/** Median of each figure over several rounds on fresh files: the host is shared and noisy. */
function median(rounds: Array<Record<string, Figure>>): Record<string, Figure> {
  const out: Record<string, Figure> = {};
  for (const k of Object.keys(rounds[0]!)) {
    const sorted = rounds.map((r) => r[k]!).sort((a, b) => a.mibPerSec - b.mibPerSec);
    out[k] = sorted[Math.floor(sorted.length / 2)]!;
  }
  return out;
}

function round1(dir: string, vhdFirst: boolean): { raw: Record<string, Figure>; vhd: Record<string, Figure> } {
  const rawPath = path.join(dir, 'disk.img');
  const vhdPath = path.join(dir, 'disk.vhd');
  const runRaw = () => {
    const file = new FdFile(rawPath, false, 'create');
    file.truncate(SIZE);
    const dev = new RawDisk(file);
    const f = workload(dev);
    dev.close();
    return f;
  };
  const runVhd = () => {
    createImage(vhdPath, { size: SIZE });
    const dev = openImage(vhdPath).device;
    const f = workload(dev);
    dev.close();
    return f;
  };
  // Alternate which goes first so page-cache warmth and neighbours' load favour neither.
  let raw: Record<string, Figure>;
  let vhd: Record<string, Figure>;
  if (vhdFirst) {
    vhd = runVhd();
    raw = runRaw();
  } else {
    raw = runRaw();
    vhd = runVhd();
  }
  fs.rmSync(rawPath);
  fs.rmSync(vhdPath);
  return { raw, vhd };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmrun-bench-'));
try {
  const rounds = Array.from({ length: ROUNDS }, (_, i) => round1(dir, i % 2 === 1));
  const rawFigures = median(rounds.map((r) => r.raw));
  const vhdFigures = median(rounds.map((r) => r.vhd));

  const ratio: Record<string, number> = {};
  for (const k of Object.keys(rawFigures)) ratio[k] = Math.round((vhdFigures[k]!.mibPerSec / rawFigures[k]!.mibPerSec) * 100) / 100;
  process.stdout.write(
    JSON.stringify(
      {
        benchmark: 'disk',
        ioBytes: IO,
        diskBytes: SIZE,
        randomOps: RANDOM_OPS,
        rounds: ROUNDS,
        node: process.version,
        raw: rawFigures,
        vhdDynamic: vhdFigures,
        vhdOverRaw: ratio,
      },
      null,
      2,
    ) + '\n',
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
