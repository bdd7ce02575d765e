// A small encoder for the AML byte code (ACPI 6.x, chapter 20) and the resource descriptors
// of chapter 6.4, enough to write this machine's DSDT. It runs once when tables are built, so
// it favours plain arrays over speed.

export type Aml = number[];

const ROOT_CHAR = 0x5c;
const PARENT_PREFIX = 0x5e;
const DUAL_NAME_PREFIX = 0x2e;
const MULTI_NAME_PREFIX = 0x2f;
const EXT_OP = 0x5b;

function ascii(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7e || c < 0x20) throw new RangeError(`AML: non-ASCII character in ${JSON.stringify(s)}`);
    out.push(c);
  }
  return out;
}

/** One 4-character name segment; shorter names are padded with '_' as ASL does. */
export function nameSeg(seg: string): Aml {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new RangeError(`AML: bad name segment ${JSON.stringify(seg)}`);
  return ascii(seg.padEnd(4, '_'));
}

/** A NameString: optional '\' or '^' prefixes, then dot-separated segments. */
export function nameString(path: string): Aml {
  const out: Aml = [];
  let i = 0;
  if (path[0] === '\\') { out.push(ROOT_CHAR); i = 1; }
  else while (path[i] === '^') { out.push(PARENT_PREFIX); i++; }
  const rest = path.slice(i);
  const segs = rest === '' ? [] : rest.split('.');
  if (segs.length === 0) out.push(0x00);
  else if (segs.length === 2) out.push(DUAL_NAME_PREFIX);
  else if (segs.length > 2) out.push(MULTI_NAME_PREFIX, segs.length);
  for (const s of segs) out.push(...nameSeg(s));
  return out;
}

/** The PkgLength encoding of the value v itself (also how a Field element's bit width is written). */
export function encodeLength(v: number): Aml {
  if (v <= 0x3f) return [v];
  for (let n = 2; n <= 4; n++) {
    if (v < 2 ** (4 + 8 * (n - 1))) {
      const out = [((n - 1) << 6) | (v & 0x0f)];
      for (let k = 1; k < n; k++) out.push((v >>> (4 + 8 * (k - 1))) & 0xff);
      return out;
    }
  }
  throw new RangeError('AML: package too long');
}

/** PkgLength for `contentLen` bytes of content; the encoding counts its own bytes too. */
export function pkgLength(contentLen: number): Aml {
  for (let n = 1; n <= 4; n++) {
    const enc = encodeLength(contentLen + n);
    if (enc.length === n) return enc;
  }
  throw new RangeError('AML: package too long');
}

function withPkg(op: Aml, content: Aml): Aml {
  return [...op, ...pkgLength(content.length), ...content];
}

const flat = (parts: Aml[]): Aml => parts.flat();

/** Smallest integer encoding: Zero, One, Ones (all 64 bits set is not representable here), Byte..QWord. */
export function integer(v: number): Aml {
  if (!Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) throw new RangeError(`AML: integer ${v} out of range`);
  if (v === 0) return [0x00];
  if (v === 1) return [0x01];
  if (v <= 0xff) return [0x0a, v];
  if (v <= 0xffff) return [0x0b, v & 0xff, v >>> 8];
  if (v <= 0xffffffff) return [0x0c, ...le(v, 4)];
  return [0x0e, ...le(v, 8)];
}

/** Little-endian bytes of v (exact below 2^53). */
export function le(v: number, bytes: number): number[] {
  const out: number[] = [];
  let lo = v % 0x1_0000_0000, hi = Math.floor(v / 0x1_0000_0000);
  for (let i = 0; i < bytes; i++) {
    if (i < 4) { out.push(lo & 0xff); lo = Math.floor(lo / 256); }
    else { out.push(hi & 0xff); hi = Math.floor(hi / 256); }
  }
  return out;
}

export function string(s: string): Aml {
  return [0x0d, ...ascii(s), 0x00];
}

export function buffer(bytes: number[]): Aml {
  return withPkg([0x11], [...integer(bytes.length), ...bytes]);
}

export function pkg(elements: Aml[]): Aml {
  if (elements.length > 255) throw new RangeError('AML: Package() holds at most 255 elements');
  return withPkg([0x12], [elements.length, ...flat(elements)]);
}

export function name(n: string, value: Aml): Aml {
  return [0x08, ...nameString(n), ...value];
}

export function scope(n: string, body: Aml[]): Aml {
  return withPkg([0x10], [...nameString(n), ...flat(body)]);
}

export function device(n: string, body: Aml[]): Aml {
  return withPkg([EXT_OP, 0x82], [...nameString(n), ...flat(body)]);
}

export function method(n: string, argCount: number, serialized: boolean, body: Aml[]): Aml {
  const flags = (argCount & 7) | (serialized ? 0x08 : 0);
  return withPkg([0x14], [...nameString(n), flags, ...flat(body)]);
}

/** A target operand that discards the result. */
export const NO_TARGET: Aml = [0x00];

export function ifElse(predicate: Aml, then: Aml[], otherwise?: Aml[]): Aml {
  const out = withPkg([0xa0], [...predicate, ...flat(then)]);
  return otherwise ? [...out, ...withPkg([0xa1], flat(otherwise))] : out;
}

export const and = (a: Aml, b: Aml, target: Aml = NO_TARGET): Aml => [0x7b, ...a, ...b, ...target];
export const or = (a: Aml, b: Aml, target: Aml = NO_TARGET): Aml => [0x7d, ...a, ...b, ...target];
export const shiftLeft = (a: Aml, count: Aml, target: Aml = NO_TARGET): Aml => [0x79, ...a, ...count, ...target];
export const findSetRightBit = (a: Aml, target: Aml): Aml => [0x82, ...a, ...target];
export const decrement = (target: Aml): Aml => [0x76, ...target];
export const lNot = (a: Aml): Aml => [0x92, ...a];
export const createWordField = (source: Aml, byteIndex: number, fieldName: string): Aml =>
  [0x8b, ...source, ...integer(byteIndex), ...nameString(fieldName)];

/** OperationRegion(name, space, offset, length); space 2 = PCI_Config. */
export function operationRegion(n: string, space: number, offset: number, length: number): Aml {
  return [EXT_OP, 0x80, ...nameString(n), space, ...integer(offset), ...integer(length)];
}

/** Field(region, ByteAcc, NoLock, Preserve) { name, bits, ... }. */
export function field(region: string, units: [string, number][]): Aml {
  const list: Aml = [];
  for (const [n, bits] of units) list.push(...nameSeg(n), ...encodeLength(bits));
  return withPkg([EXT_OP, 0x81], [...nameString(region), 0x01, ...list]);
}

export const arg = (i: number): Aml => [0x68 + i];
export const local = (i: number): Aml => [0x60 + i];
/** A reference to a named object used as an operand or target. */
export const ref = (path: string): Aml => nameString(path);

export function store(src: Aml, dst: Aml): Aml {
  return [0x70, ...src, ...dst];
}

export function ret(v: Aml): Aml {
  return [0xa4, ...v];
}

/** EISA ID ("PNP0A03") compressed into the 32-bit form _HID/_CID use. */
export function eisaId(id: string): number {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new RangeError(`bad EISA ID ${id}`);
  const c = (i: number) => id.charCodeAt(i) - 0x40;
  const vendor = (c(0) << 10) | (c(1) << 5) | c(2);
  const product = parseInt(id.slice(3), 16);
  // Stored as bytes vendor-high, vendor-low, product-high, product-low.
  return ((product & 0xff) << 24 | (product >> 8) << 16 | (vendor & 0xff) << 8 | vendor >> 8) >>> 0;
}

export function eisaIdAml(id: string): Aml {
  return integer(eisaId(id));
}

// ---- Resource descriptors (ACPI 6.x section 6.4) ----

/** A ResourceTemplate: the descriptors followed by the end tag (checksum 0 = not computed). */
export function resourceTemplate(descs: number[][]): Aml {
  return buffer([...descs.flat(), 0x79, 0x00]);
}

/** IO(Decode16, min, max, align, len). */
export function io16(min: number, max: number, align: number, len: number): number[] {
  return [0x47, 0x01, ...le(min, 2), ...le(max, 2), align, len];
}

/** IRQNoFlags(){...}: edge-triggered, active-high, exclusive ISA IRQs. */
export function irqNoFlags(irqs: number[]): number[] {
  let mask = 0;
  for (const i of irqs) mask |= 1 << i;
  return [0x22, mask & 0xff, mask >>> 8];
}

/** IRQ(Level, ActiveHigh, Shared){...}: the form PCI interrupt links use on this board. */
export function irqLevelHighShared(irqs: number[]): number[] {
  let mask = 0;
  for (const i of irqs) mask |= 1 << i;
  return [0x23, mask & 0xff, mask >>> 8, 0x10];
}

/** Memory32Fixed(ReadWrite or ReadOnly, base, len). */
export function memory32Fixed(base: number, len: number, writable: boolean): number[] {
  return [0x86, 0x09, 0x00, writable ? 1 : 0, ...le(base, 4), ...le(len, 4)];
}

// General flags of address space descriptors: MinFixed, MaxFixed, PosDecode, ResourceProducer.
const ADDR_FIXED_PRODUCER = 0x0c;

/** WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, len). */
export function wordBusNumber(min: number, max: number): number[] {
  return [0x88, 0x0d, 0x00, 0x02, ADDR_FIXED_PRODUCER, 0x00, 0, 0, ...le(min, 2), ...le(max, 2), 0, 0, ...le(max - min + 1, 2)];
}

/** WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, len). */
export function wordIo(min: number, max: number): number[] {
  return [0x88, 0x0d, 0x00, 0x01, ADDR_FIXED_PRODUCER, 0x03, 0, 0, ...le(min, 2), ...le(max, 2), 0, 0, ...le(max - min + 1, 2)];
}

/** DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable|NonCacheable, ReadWrite, 0, min, max, 0, len). */
export function dwordMemory(min: number, max: number, cacheable: boolean): number[] {
  const typeFlags = 0x01 | (cacheable ? 0x02 : 0);
  return [0x87, 0x17, 0x00, 0x00, ADDR_FIXED_PRODUCER, typeFlags, ...le(0, 4), ...le(min, 4), ...le(max, 4), ...le(0, 4), ...le(max - min + 1, 4)];
}
