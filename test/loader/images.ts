// Synthetic kernel images for the loader tests: exact control over every header field, and no
// toolchain needed for the format and error cases.

export interface SegSpec { vaddr: number; paddr?: number; data: Uint8Array; memsz?: number }

/** A minimal ELF executable: header, program headers, then each segment's bytes in order. */
export function makeElf(opts: { bits: 32 | 64; machine?: number; type?: number; entry: number | bigint; segments: SegSpec[] }): Uint8Array {
  const is64 = opts.bits === 64;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  let off = ehsize + phentsize * opts.segments.length;
  // Segment data 16-aligned in the file so headers inside it keep their alignment.
  const offsets = opts.segments.map((s) => { const o = (off + 15) & ~15; off = o + s.data.length; return o; });
  const out = new Uint8Array(off);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1]);
  dv.setUint16(16, opts.type ?? 2, true);
  dv.setUint16(18, opts.machine ?? (is64 ? 62 : 3), true);
  dv.setUint32(20, 1, true);
  if (is64) {
    dv.setBigUint64(24, BigInt.asUintN(64, BigInt(opts.entry)), true);
    dv.setBigUint64(32, 64n, true);
    dv.setUint16(52, ehsize, true);
    dv.setUint16(54, phentsize, true);
    dv.setUint16(56, opts.segments.length, true);
  } else {
    dv.setUint32(24, Number(opts.entry), true);
    dv.setUint32(28, 52, true);
    dv.setUint16(40, ehsize, true);
    dv.setUint16(42, phentsize, true);
    dv.setUint16(44, opts.segments.length, true);
  }
  opts.segments.forEach((s, i) => {
    const p = ehsize + i * phentsize;
    const memsz = s.memsz ?? s.data.length;
    const big = (v: number) => BigInt.asUintN(64, BigInt(v));
    dv.setUint32(p, 1, true); // PT_LOAD
    if (is64) {
      dv.setUint32(p + 4, 7, true);
      dv.setBigUint64(p + 8, BigInt(offsets[i]), true);
      dv.setBigUint64(p + 16, typeof s.vaddr === 'number' && s.vaddr < 0 ? big(s.vaddr) : BigInt(s.vaddr), true);
      dv.setBigUint64(p + 24, BigInt(s.paddr ?? s.vaddr), true);
      dv.setBigUint64(p + 32, BigInt(s.data.length), true);
      dv.setBigUint64(p + 40, BigInt(memsz), true);
    } else {
      dv.setUint32(p + 4, offsets[i], true);
      dv.setUint32(p + 8, s.vaddr >>> 0, true);
      dv.setUint32(p + 12, (s.paddr ?? s.vaddr) >>> 0, true);
      dv.setUint32(p + 16, s.data.length, true);
      dv.setUint32(p + 20, memsz, true);
      dv.setUint32(p + 24, 7, true);
    }
    out.set(s.data, offsets[i]);
  });
  return out;
}

/** A multiboot v1 header (optionally with the address fields) padded to 4 bytes. */
export function mb1Header(flags: number, addr?: { header: number; load: number; loadEnd: number; bssEnd: number; entry: number }): Uint8Array {
  const words = [0x1badb002, flags >>> 0, (-(0x1badb002 + flags)) >>> 0];
  if (addr) words.push(addr.header, addr.load, addr.loadEnd, addr.bssEnd, addr.entry);
  return u32s(words);
}

export function u32s(words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const dv = new DataView(b.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** A multiboot2 header from raw tags ({type, flags, body}); adds the end tag and checksum. */
export function mb2Header(tags: { type: number; flags?: number; body?: number[] }[]): Uint8Array {
  const parts: number[] = [];
  for (const t of [...tags, { type: 0, flags: 0, body: [] as number[] }]) {
    const body = t.body ?? [];
    parts.push((t.type & 0xffff) | ((t.flags ?? 0) << 16), 8 + 4 * body.length, ...body);
    if (body.length % 2) parts.push(0); // tags are 8-aligned
  }
  const len = 16 + parts.length * 4;
  return u32s([0xe85250d6, 0, len, (-(0xe85250d6 + len)) >>> 0, ...parts]);
}
