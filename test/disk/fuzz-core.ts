import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlockDevice } from '../../src/disk/block-device.js';
import { checkVhdFile } from '../../src/disk/check.js';
import { copyDevice } from '../../src/disk/copy.js';
import { DiskFormatError } from '../../src/disk/errors.js';
import { MemFile } from '../../src/disk/image-file.js';
import { checkImage, convertImage, imageInfo } from '../../src/disk/index.js';
import { putU32, u64, vhdChecksum } from '../../src/disk/vhd/be.js';
import { writeNewVhd } from '../../src/disk/vhd/create.js';
import { openVhdFile } from '../../src/disk/vhd/open-vhd.js';
import { encodeLocators } from '../../src/disk/vhd/parent-locator.js';
import { SparseVhd } from '../../src/disk/vhd/sparse-disk.js';
import { readVhdStructure } from '../../src/disk/vhd/structure.js';
import { uuidToString } from '../../src/disk/vhd/uuid.js';
import { Rng } from './helpers.js';

export interface FuzzResult {
  cases: number;
  opened: number;
  rejected: number;
  fileCases: number;
  maxMs: number;
  failures: string[];
}

interface Corpus {
  seeds: Uint8Array[];
  parents: Map<string, Uint8Array>;
}

/** Small but complete images: every structure (BAT, bitmaps, locators) in a few kilobytes. */
export function buildCorpus(): Corpus {
  const rng = new Rng(7);
  const parents = new Map<string, Uint8Array>();
  const dyn = (size: number, blockSize: number, writes: number): MemFile => {
    const f = new MemFile();
    writeNewVhd(f, { type: 'dynamic', size, blockSize });
    const d = new SparseVhd(f, readVhdStructure(f), null);
    for (let i = 0; i < writes; i++) d.write(rng.fill(new Uint8Array(512 * (1 + rng.int(8)))), rng.int(d.size / 512 - 8) * 512);
    return f;
  };
  const base = dyn(256 * 1024, 4096, 6);
  const baseFooter = readVhdStructure(base).footer;
  parents.set(uuidToString(baseFooter.uuid), base.bytes());
  const child = new MemFile();
  writeNewVhd(child, {
    type: 'differencing',
    blockSize: 4096,
    parent: { footer: baseFooter, timestamp: 1, name: '/images/base.vhd', locators: encodeLocators('/images/c/child.vhd', '/images/base.vhd') },
  });
  const cd = new SparseVhd(child, readVhdStructure(child), new SparseVhd(new MemFile(base.bytes().slice(), true), readVhdStructure(base), null));
  for (let i = 0; i < 5; i++) cd.write(rng.fill(new Uint8Array(4096)), rng.int(cd.size / 4096) * 4096);
  const fixed = new MemFile();
  writeNewVhd(fixed, { type: 'fixed', size: 16 * 1024 });
  fixed.write(rng.fill(new Uint8Array(4096)), 4096);
  return { seeds: [base.bytes().slice(), child.bytes().slice(), fixed.bytes().slice(), dyn(64 * 1024, 512, 10).bytes().slice()], parents };
}

const INTERESTING = [0, 1, 0x200, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffe00, 0x10000, 0x00200000];

function mutate(src: Uint8Array, rng: Rng): Uint8Array {
  let b = src.slice();
  const hot = () => {
    // Structures live in the first 4 KiB and the last 512 bytes.
    const r = rng.int(3);
    return r === 0 ? rng.int(Math.min(b.length, 4096)) : r === 1 ? Math.max(0, b.length - 512 + rng.int(512)) : rng.int(b.length);
  };
  const n = 1 + rng.int(4);
  for (let i = 0; i < n && b.length > 0; i++) {
    switch (rng.int(7)) {
      case 0:
        b[hot()]! ^= 1 << rng.int(8);
        break;
      case 1:
        b[hot()] = rng.int(256);
        break;
      case 2: {
        const off = hot() & ~3;
        if (off + 4 <= b.length) putU32(b, off, INTERESTING[rng.int(INTERESTING.length)]!);
        break;
      }
      case 3:
        b = b.slice(0, rng.int(b.length + 1));
        break;
      case 4: {
        const grown = new Uint8Array(b.length + 1 + rng.int(2048));
        grown.set(b);
        rng.fill(grown.subarray(b.length));
        b = grown;
        break;
      }
      case 5:
        if (b.length >= 512) b.fill(rng.int(2) ? 0 : 0xff, b.length - 512, b.length - 512 + rng.int(512));
        break;
      default: {
        const off = hot() & ~3;
        if (off + 4 <= b.length) putU32(b, off, rng.next());
      }
    }
  }
  if (rng.int(10) < 7) fixChecksums(b);
  return b;
}

/** Re-seals mutated structures so the fuzzer gets past the checksums into the deeper parsing. */
function fixChecksums(b: Uint8Array): void {
  const seal = (off: number, len: number, sumAt: number) => {
    if (off < 0 || off + len > b.length) return;
    putU32(b, off + sumAt, vhdChecksum(b.subarray(off, off + len), sumAt));
  };
  const cookie = (off: number, s: string) => off >= 0 && off + 8 <= b.length && Buffer.from(b.subarray(off, off + 8)).toString('latin1') === s;
  if (cookie(0, 'conectix')) seal(0, 512, 64);
  if (cookie(b.length - 512, 'conectix')) seal(b.length - 512, 512, 64);
  if (b.length >= 512 && cookie(0, 'conectix')) {
    const hdr = u64(b, 16);
    if (Number.isSafeInteger(hdr) && hdr >= 0 && cookie(hdr, 'cxsparse')) seal(hdr, 1024, 36);
  }
}

function nullSink(size: number): BlockDevice {
  return {
    size,
    readOnly: false,
    read: (buf) => buf.fill(0),
    write: () => {},
    flush: () => {},
    discard: () => {},
    allocatedRanges: () => [],
    close: () => {},
  };
}

/** One case through every in-memory entry point; only DiskFormatError may escape. */
function exercise(bytes: Uint8Array, corpus: Corpus, rng: Rng): boolean {
  const file = new MemFile(bytes);
  checkVhdFile(file);
  const { device } = openVhdFile(file, (s) => {
    const p = corpus.parents.get(uuidToString(s.header!.parentUuid));
    if (!p) throw new DiskFormatError('parent not found');
    return openVhdFile(new MemFile(p.slice(), true), () => {
      throw new DiskFormatError('grandparent not found');
    }).device;
  });
  copyDevice(device, nullSink(device.size));
  const sectors = Math.floor(device.size / 512);
  const blockSize = readVhdStructure(file).header?.blockSize ?? 0;
  for (let i = 0; i < 6 && sectors > 0; i++) {
    const count = 1 + rng.int(Math.min(16, sectors));
    const off = rng.int(sectors - count + 1) * 512;
    const buf = new Uint8Array(count * 512);
    // Writes grow the in-memory file by a block; keep mutated giant block sizes read-only.
    if (rng.int(2) && blockSize <= 1 << 20) device.write(rng.fill(buf), off);
    else device.read(buf, off);
  }
  device.flush();
  device.close();
  return true;
}

export function runFuzz(cases: number, seed: number, fileEvery = 50): FuzzResult {
  const corpus = buildCorpus();
  const rng = new Rng(seed);
  const res: FuzzResult = { cases: 0, opened: 0, rejected: 0, fileCases: 0, maxMs: 0, failures: [] };
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'vmrun-fuzz-'));
  try {
    for (let i = 0; i < cases; i++) {
      const caseSeed = rng.next();
      const crng = new Rng(caseSeed);
      const bytes = mutate(corpus.seeds[crng.int(corpus.seeds.length)]!, crng);
      const t = performance.now();
      try {
        exercise(bytes.slice(), corpus, crng);
        res.opened++;
      } catch (e) {
        if (e instanceof DiskFormatError) res.rejected++;
        else res.failures.push(`case seed ${caseSeed}: ${(e as Error).stack ?? e}`);
      }
      if (fileEvery > 0 && i % fileEvery === 0) {
        res.fileCases++;
        const err = throughFiles(bytes, dir, i);
        if (err) res.failures.push(`case seed ${caseSeed} (files): ${err}`);
      }
      res.maxMs = Math.max(res.maxMs, performance.now() - t);
      res.cases++;
      if (res.failures.length > 5) break;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

/** The same bytes through the path-level API the CLI uses. */
function throughFiles(bytes: Uint8Array, dir: string, i: number): string | null {
  const f = path.join(dir, `case-${i}.vhd`);
  const out = path.join(dir, `out-${i}.raw`);
  fs.writeFileSync(f, bytes);
  try {
    for (const step of [() => imageInfo(f), () => checkImage(f), () => convertImage(f, out, 'raw')]) {
      try {
        step();
      } catch (e) {
        if (!(e instanceof DiskFormatError)) return (e as Error).stack ?? String(e);
      }
    }
    return null;
  } finally {
    fs.rmSync(f, { force: true });
    fs.rmSync(out, { force: true });
  }
}
