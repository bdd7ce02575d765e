import { randomBytes } from 'node:crypto';

/** VHD stores a UUID as 16 raw bytes; comparisons and display work on those bytes as-is. */
export function newUuid(): Uint8Array {
  const b = new Uint8Array(randomBytes(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return b;
}

export function uuidToString(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function uuidEqual(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function uuidIsZero(a: Uint8Array): boolean {
  return a.every((x) => x === 0);
}
