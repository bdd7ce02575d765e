import { Rng } from './helpers.js';

/**
 * The crash workload, shared by the writer child and the verifier: write `id` covers
 * sectors chosen by a seeded generator, and every sector's content names its writer, so
 * after a kill each sector can be attributed to exactly one write (or to none).
 */
export const SECTOR = 512;

export interface WriteSpec {
  id: number;
  sector: number;
  count: number;
}

export class Workload {
  private rng: Rng;
  private nextId: number;
  constructor(seed: number, firstId: number, private readonly sectors: number) {
    this.rng = new Rng(seed);
    this.nextId = firstId;
  }
  next(): WriteSpec {
    // Mostly 4 KiB-aligned guest-like I/O, sometimes odd sizes that straddle blocks and grains.
    const odd = this.rng.int(4) === 0;
    const count = odd ? 1 + this.rng.int(40) : 8 * (1 + this.rng.int(6));
    let sector = this.rng.int(this.sectors - count + 1);
    if (!odd) sector -= sector % 8;
    return { id: this.nextId++, sector, count };
  }
}

export function fillSector(out: Uint8Array, id: number, sector: number): void {
  const dv = new DataView(out.buffer, out.byteOffset, SECTOR);
  dv.setUint32(0, id);
  dv.setUint32(4, sector);
  for (let i = 8; i < SECTOR; i++) out[i] = (id * 31 + sector * 17 + i) & 0xff;
}

export function payload(w: WriteSpec): Uint8Array {
  const b = new Uint8Array(w.count * SECTOR);
  for (let i = 0; i < w.count; i++) fillSector(b.subarray(i * SECTOR, (i + 1) * SECTOR), w.id, w.sector + i);
  return b;
}

/** Which write's data a sector holds: 0 for all zeros, -1 for anything unrecognisable. */
export function identify(sector: Uint8Array, index: number): number {
  const id = ((sector[0]! << 24) | (sector[1]! << 16) | (sector[2]! << 8) | sector[3]!) >>> 0;
  if (id === 0) {
    for (let i = 0; i < SECTOR; i++) if (sector[i] !== 0) return -1;
    return 0;
  }
  const idx = ((sector[4]! << 24) | (sector[5]! << 16) | (sector[6]! << 8) | sector[7]!) >>> 0;
  if (idx !== index) return -1;
  // A killed process cannot tear a sector, so a few probes identify its content.
  for (const i of PROBES) if (sector[i] !== ((id * 31 + index * 17 + i) & 0xff)) return -1;
  return id;
}

const PROBES = [8, 137, 300, SECTOR - 1];
