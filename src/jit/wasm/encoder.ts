// A small WebAssembly binary encoder. The cold tier builds hundreds of block functions per
// module; a hand-written encoder is ~10x cheaper than binaryen for that (design/data-path.md).

export const enum T {
  i32 = 0x7f,
  i64 = 0x7e,
  f32 = 0x7d,
  f64 = 0x7c,
  v128 = 0x7b,
  void = 0x40,
}

const NAME_CACHE = new Map<string, Uint8Array>();

/**
 * Spare buffers by power-of-two capacity (2^8 … 2^20). The cold tier builds ~20 bodies and a few
 * sections per module, hundreds of thousands in a boot: allocating each one (and sweeping it later)
 * cost more than filling it. Few large ones are kept (a module's sections reach a few hundred KiB).
 */
const POOL: Uint8Array<ArrayBuffer>[][] = Array.from({ length: 21 }, () => []);
const POOL_DEPTH = 128;
const POOL_DEPTH_LARGE = 4;
const EMPTY = new Uint8Array(0);

/** Growable byte buffer with LEB128 helpers. */
export class ByteBuf {
  buf: Uint8Array<ArrayBuffer>;
  len = 0;

  constructor(capacity = 256) {
    const bucket = POOL[31 - Math.clz32(capacity)];
    this.buf = (capacity & (capacity - 1)) === 0 && bucket?.length ? bucket.pop()! : new Uint8Array(capacity);
  }

  /** Hand the storage back for reuse: this buffer must not be used afterwards. */
  release(): void {
    const cap = this.buf.length;
    const bucket = POOL[31 - Math.clz32(cap)];
    if (bucket && (cap & (cap - 1)) === 0 && bucket.length < (cap > 65536 ? POOL_DEPTH_LARGE : POOL_DEPTH)) bucket.push(this.buf);
    this.buf = EMPTY;
    this.len = 0;
  }

  // Every write checks capacity inline and calls out only to grow: this runs millions of times.
  private ensure(n: number): void {
    if (this.len + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let cap = Math.max(this.buf.length * 2, 256);
    while (cap < this.len + n) cap *= 2;
    // the larger storage from the pool when it has one, the smaller one back to it
    const bucket = POOL[31 - Math.clz32(cap)];
    const nb = bucket?.length ? bucket.pop()! : new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    const len = this.len;
    this.release();
    this.buf = nb;
    this.len = len;
  }

  byte(b: number): void {
    if (this.len >= this.buf.length) this.grow(1);
    this.buf[this.len++] = b;
  }

  bytes(a: ArrayLike<number>): void {
    this.ensure(a.length);
    this.buf.set(a, this.len);
    this.len += a.length;
  }

  u32(v: number): void {
    v >>>= 0;
    this.ensure(5);
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.buf[this.len++] = b;
    } while (v !== 0);
  }

  s32(v: number): void {
    v |= 0;
    this.ensure(5);
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
        this.buf[this.len++] = b;
        return;
      }
      this.buf[this.len++] = b | 0x80;
    }
  }

  /** Signed LEB128 of a 64-bit value given as (lo, hi) 32-bit halves: no BigInt. */
  s64(lo: number, hi: number): void {
    lo >>>= 0;
    hi |= 0;
    this.ensure(10);
    for (;;) {
      const b = lo & 0x7f;
      // shift the 64-bit pair right by 7 (arithmetic)
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>= 7;
      const signBit = b & 0x40;
      if ((hi === 0 && lo === 0 && !signBit) || (hi === -1 && lo === 0xffffffff && signBit)) {
        this.buf[this.len++] = b;
        return;
      }
      this.buf[this.len++] = b | 0x80;
    }
  }

  name(s: string): void {
    let e = NAME_CACHE.get(s);
    if (!e) { e = new TextEncoder().encode(s); NAME_CACHE.set(s, e); }
    this.u32(e.length);
    this.bytes(e);
  }

  section(id: number, body: ByteBuf): void {
    this.byte(id);
    this.u32(body.len);
    this.bytes(body.buf.subarray(0, body.len));
  }

  result(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.len);
  }
}

const BIG64 = new BigInt64Array(1);
const BIG64_HALVES = new Uint32Array(BIG64.buffer);

export interface FuncType {
  params: T[];
  results: T[];
}

interface ImportFn {
  module: string;
  name: string;
  type: number;
}

interface DefinedFn {
  type: number;
  body: FnBody;
  exportName?: string;
}

/** One Wasm module under construction. All modules import the shared memory as env.mem. */
export class ModuleBuilder {
  private types: FuncType[] = [];
  private typeKeys = new Map<number | string, number>();
  private imports: ImportFn[] = [];
  private importKeys = new Map<string, number>();
  private funcs: DefinedFn[] = [];
  private tableImport: { module: string; name: string; min: number } | null = null;
  private sealedImports = false;

  constructor(private readonly memImport: { module: string; name: string; pages: number; maxPages?: number; shared?: boolean } | null) {}

  typeIndex(params: T[], results: T[]): number {
    // a number, not a string: every block module asks for a dozen signatures (value types are
    // 0x7b…0x7f: their low 3 bits are 3…7, and 1 separates parameters from results)
    let key: number | string = 1;
    if (params.length + results.length < 16) {
      for (const t of params) key = key * 8 + (t & 7);
      key = key * 8 + 1;
      for (const t of results) key = key * 8 + (t & 7);
    } else key = params.join(',') + '>' + results.join(',');
    let idx = this.typeKeys.get(key);
    if (idx === undefined) {
      idx = this.types.length;
      this.types.push({ params, results });
      this.typeKeys.set(key, idx);
    }
    return idx;
  }

  /** Import a function; returns its function index. Must precede any addFunction. */
  importFunction(module: string, name: string, params: T[], results: T[]): number {
    const key = module + '.' + name;
    const existing = this.importKeys.get(key);
    if (existing !== undefined) return existing;
    if (this.sealedImports) throw new Error('imports must be declared before functions');
    const idx = this.imports.length;
    this.imports.push({ module, name, type: this.typeIndex(params, results) });
    this.importKeys.set(key, idx);
    return idx;
  }

  importTable(module: string, name: string, min: number): void {
    this.tableImport = { module, name, min };
  }

  /** Reserve a function index now (so bodies can call each other); fill it with setBody. */
  declareFunction(params: T[], results: T[], exportName?: string): number {
    this.sealedImports = true;
    const idx = this.imports.length + this.funcs.length;
    this.funcs.push({ type: this.typeIndex(params, results), body: null as unknown as FnBody, exportName });
    return idx;
  }

  setBody(funcIndex: number, body: FnBody): void {
    this.funcs[funcIndex - this.imports.length].body = body;
  }

  addFunction(params: T[], results: T[], body: FnBody, exportName?: string): number {
    const idx = this.declareFunction(params, results, exportName);
    this.setBody(idx, body);
    return idx;
  }

  get functionCount(): number {
    return this.funcs.length;
  }

  emit(): Uint8Array<ArrayBuffer> {
    const out = new ByteBuf(16384);
    out.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    // type section
    const ts = new ByteBuf();
    ts.u32(this.types.length);
    for (const t of this.types) {
      ts.byte(0x60);
      ts.u32(t.params.length);
      for (const p of t.params) ts.byte(p);
      ts.u32(t.results.length);
      for (const r of t.results) ts.byte(r);
    }
    out.section(1, ts);
    // import section
    const is = new ByteBuf();
    const nImports = this.imports.length + (this.memImport ? 1 : 0) + (this.tableImport ? 1 : 0);
    is.u32(nImports);
    if (this.memImport) {
      const m = this.memImport;
      is.name(m.module);
      is.name(m.name);
      is.byte(0x02);
      if (m.maxPages !== undefined) {
        is.byte(m.shared ? 0x03 : 0x01);
        is.u32(m.pages);
        is.u32(m.maxPages);
      } else {
        is.byte(0x00);
        is.u32(m.pages);
      }
    }
    if (this.tableImport) {
      is.name(this.tableImport.module);
      is.name(this.tableImport.name);
      is.byte(0x01);
      is.byte(0x70);
      is.byte(0x00);
      is.u32(this.tableImport.min);
    }
    for (const im of this.imports) {
      is.name(im.module);
      is.name(im.name);
      is.byte(0x00);
      is.u32(im.type);
    }
    if (nImports) out.section(2, is);
    // function section
    const fs = new ByteBuf();
    fs.u32(this.funcs.length);
    for (const f of this.funcs) fs.u32(f.type);
    out.section(3, fs);
    // export section
    const exported = this.funcs.map((f, i) => ({ f, i })).filter((x) => x.f.exportName !== undefined);
    const es = new ByteBuf();
    es.u32(exported.length);
    for (const { f, i } of exported) {
      es.name(f.exportName!);
      es.byte(0x00);
      es.u32(this.imports.length + i);
    }
    out.section(7, es);
    // code section
    const cs = new ByteBuf(16384);
    cs.u32(this.funcs.length);
    for (const f of this.funcs) {
      f.body.writeTo(cs);
      f.body.code.release();
    }
    out.section(10, cs);
    const bytes = out.result();
    for (const b of [out, ts, is, fs, es, cs]) b.release();
    return bytes;
  }
}

/** A function reached through a table slot with a known signature (type index in the calling module). */
export interface TableFn {
  slot: number;
  type: number;
}

/**
 * A function body as a stack-machine instruction stream. Methods mirror Wasm opcodes so that
 * instruction semantics read like the code they generate.
 */
export class FnBody {
  readonly code = new ByteBuf(1024);
  private localTypes: T[] = [];
  /** Locals handed back by releaseLocals, by type (regions only: created on first release). */
  private freeLocals: Map<T, number[]> | null = null;
  private tracked: number[] | null = null;
  /**
   * Called around every `callTable` (before: after the arguments are pushed; after: once the call
   * returned). Region code uses it to spill and reload the guest registers it keeps in locals.
   */
  onCall: ((fn: TableFn, after: boolean) => void) | null = null;
  constructor(readonly paramCount: number) {}

  /** Declare a local of type t (reusing a released one if any); returns its index. */
  local(t: T): number {
    const free = this.freeLocals?.get(t);
    let idx: number;
    if (free && free.length) idx = free.pop()!;
    else {
      this.localTypes.push(t);
      idx = this.paramCount + this.localTypes.length - 1;
    }
    this.tracked?.push(idx);
    return idx;
  }

  /** Emit code at the start of the body (after what was already emitted there is generated). */
  prepend(emit: (f: this) => void): void {
    const saved = this.code.buf.slice(0, this.code.len);
    this.code.len = 0;
    emit(this);
    this.code.bytes(saved);
  }

  /** Start recording the locals declared from now on (see releaseLocals). */
  trackLocals(): void { this.tracked = []; }
  /** Make the locals declared since trackLocals reusable: code emitted later must set them before reading. */
  releaseLocals(): void {
    this.freeLocals ??= new Map();
    for (const l of this.tracked ?? []) {
      const t = this.localTypes[l - this.paramCount];
      let free = this.freeLocals.get(t);
      if (!free) { free = []; this.freeLocals.set(t, free); }
      free.push(l);
    }
    this.tracked = null;
  }

  /** Append this body as a code-section entry (size, run-length-encoded locals, code, end) to `out`. */
  writeTo(out: ByteBuf): void {
    // run-length groups of local types: [count, type]…
    const groups: number[] = [];
    for (let i = 0; i < this.localTypes.length; ) {
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === this.localTypes[i]) j++;
      groups.push(j - i, this.localTypes[i]);
      i = j;
    }
    const lebLen = (v: number) => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : 4);
    let declLen = lebLen(groups.length / 2);
    for (let i = 0; i < groups.length; i += 2) declLen += lebLen(groups[i]) + 1;
    out.u32(declLen + this.code.len + 1);
    out.u32(groups.length / 2);
    for (let i = 0; i < groups.length; i += 2) { out.u32(groups[i]); out.byte(groups[i + 1]); }
    out.bytes(this.code.buf.subarray(0, this.code.len));
    out.byte(0x0b); // end
  }


  op(b: number): this { this.code.byte(b); return this; }

  // control
  unreachable(): this { return this.op(0x00); }
  nop(): this { return this.op(0x01); }
  block(t: T = T.void): this { this.code.byte(0x02); this.code.byte(t); return this; }
  loop(t: T = T.void): this { this.code.byte(0x03); this.code.byte(t); return this; }
  if_(t: T = T.void): this { this.code.byte(0x04); this.code.byte(t); return this; }
  else_(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  br(depth: number): this { this.code.byte(0x0c); this.code.u32(depth); return this; }
  brIf(depth: number): this { this.code.byte(0x0d); this.code.u32(depth); return this; }
  brTable(depths: number[], dflt: number): this {
    this.code.byte(0x0e);
    this.code.u32(depths.length);
    for (const d of depths) this.code.u32(d);
    this.code.u32(dflt);
    return this;
  }
  return_(): this { return this.op(0x0f); }
  call(fn: number): this { this.code.byte(0x10); this.code.u32(fn); return this; }
  callIndirect(typeIdx: number, table = 0): this { this.code.byte(0x11); this.code.u32(typeIdx); this.code.u32(table); return this; }
  returnCall(fn: number): this { this.code.byte(0x12); this.code.u32(fn); return this; }
  returnCallIndirect(typeIdx: number, table = 0): this { this.code.byte(0x13); this.code.u32(typeIdx); this.code.u32(table); return this; }
  /** Call through table 0 at a constant slot (arguments already pushed). */
  callTable(fn: TableFn): this {
    this.onCall?.(fn, false);
    this.i32(fn.slot).callIndirect(fn.type, 0);
    this.onCall?.(fn, true);
    return this;
  }
  returnCallTable(fn: TableFn): this { return this.i32(fn.slot).returnCallIndirect(fn.type, 0); }
  drop(): this { return this.op(0x1a); }
  select(): this { return this.op(0x1b); }

  // variables
  get(l: number): this { this.code.byte(0x20); this.code.u32(l); return this; }
  set(l: number): this { this.code.byte(0x21); this.code.u32(l); return this; }
  tee(l: number): this { this.code.byte(0x22); this.code.u32(l); return this; }

  // memory (alignment hint 0: guest accesses may be unaligned)
  private mem(op: number, offset: number): this {
    this.code.byte(op);
    this.code.u32(0);
    this.code.u32(offset);
    return this;
  }
  i32Load(o = 0): this { return this.mem(0x28, o); }
  i64Load(o = 0): this { return this.mem(0x29, o); }
  f32Load(o = 0): this { return this.mem(0x2a, o); }
  f64Load(o = 0): this { return this.mem(0x2b, o); }
  i32Load8S(o = 0): this { return this.mem(0x2c, o); }
  i32Load8U(o = 0): this { return this.mem(0x2d, o); }
  i32Load16S(o = 0): this { return this.mem(0x2e, o); }
  i32Load16U(o = 0): this { return this.mem(0x2f, o); }
  i64Load8S(o = 0): this { return this.mem(0x30, o); }
  i64Load8U(o = 0): this { return this.mem(0x31, o); }
  i64Load16S(o = 0): this { return this.mem(0x32, o); }
  i64Load16U(o = 0): this { return this.mem(0x33, o); }
  i64Load32S(o = 0): this { return this.mem(0x34, o); }
  i64Load32U(o = 0): this { return this.mem(0x35, o); }
  i32Store(o = 0): this { return this.mem(0x36, o); }
  i64Store(o = 0): this { return this.mem(0x37, o); }
  f32Store(o = 0): this { return this.mem(0x38, o); }
  f64Store(o = 0): this { return this.mem(0x39, o); }
  i32Store8(o = 0): this { return this.mem(0x3a, o); }
  i32Store16(o = 0): this { return this.mem(0x3b, o); }
  i64Store8(o = 0): this { return this.mem(0x3c, o); }
  i64Store16(o = 0): this { return this.mem(0x3d, o); }
  i64Store32(o = 0): this { return this.mem(0x3e, o); }

  // constants
  i32(v: number): this { this.code.byte(0x41); this.code.s32(v); return this; }
  /** i64.const from (lo, hi) halves. */
  i64(lo: number, hi?: number): this {
    this.code.byte(0x42);
    if (hi === undefined) hi = lo < 0 ? -1 : Math.floor(lo / 0x1_0000_0000);
    this.code.s64(lo >>> 0, hi | 0);
    return this;
  }
  i64Big(v: bigint): this {
    return this.i64BigWidth(v, 8);
  }
  /** i64.const of the low `bytes` bytes of `v`, zero-extended: through a typed array, which wraps to 64 bits and splits without BigInt arithmetic. */
  i64BigWidth(v: bigint, bytes: number): this {
    BIG64[0] = v;
    const lo = BIG64_HALVES[0], hi = BIG64_HALVES[1];
    if (bytes >= 8) return this.i64(lo, hi | 0);
    return this.i64(bytes === 4 ? lo : lo & (bytes === 2 ? 0xffff : 0xff), 0);
  }
  f64(v: number): this {
    this.code.byte(0x44);
    const b = new Uint8Array(new Float64Array([v]).buffer);
    this.code.bytes(b);
    return this;
  }
  f32(v: number): this {
    this.code.byte(0x43);
    const b = new Uint8Array(new Float32Array([v]).buffer);
    this.code.bytes(b);
    return this;
  }

  // i32 ops
  i32Eqz(): this { return this.op(0x45); }
  i32Eq(): this { return this.op(0x46); }
  i32Ne(): this { return this.op(0x47); }
  i32LtS(): this { return this.op(0x48); }
  i32LtU(): this { return this.op(0x49); }
  i32GtS(): this { return this.op(0x4a); }
  i32GtU(): this { return this.op(0x4b); }
  i32LeS(): this { return this.op(0x4c); }
  i32LeU(): this { return this.op(0x4d); }
  i32GeS(): this { return this.op(0x4e); }
  i32GeU(): this { return this.op(0x4f); }
  // i64 compares
  i64Eqz(): this { return this.op(0x50); }
  i64Eq(): this { return this.op(0x51); }
  i64Ne(): this { return this.op(0x52); }
  i64LtS(): this { return this.op(0x53); }
  i64LtU(): this { return this.op(0x54); }
  i64GtS(): this { return this.op(0x55); }
  i64GtU(): this { return this.op(0x56); }
  i64LeS(): this { return this.op(0x57); }
  i64LeU(): this { return this.op(0x58); }
  i64GeS(): this { return this.op(0x59); }
  i64GeU(): this { return this.op(0x5a); }
  // f32/f64 compares
  f32Eq(): this { return this.op(0x5b); }
  f32Ne(): this { return this.op(0x5c); }
  f32Lt(): this { return this.op(0x5d); }
  f32Gt(): this { return this.op(0x5e); }
  f32Le(): this { return this.op(0x5f); }
  f32Ge(): this { return this.op(0x60); }
  f64Eq(): this { return this.op(0x61); }
  f64Ne(): this { return this.op(0x62); }
  f64Lt(): this { return this.op(0x63); }
  f64Gt(): this { return this.op(0x64); }
  f64Le(): this { return this.op(0x65); }
  f64Ge(): this { return this.op(0x66); }
  // i32 arithmetic
  i32Clz(): this { return this.op(0x67); }
  i32Ctz(): this { return this.op(0x68); }
  i32Popcnt(): this { return this.op(0x69); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32DivS(): this { return this.op(0x6d); }
  i32DivU(): this { return this.op(0x6e); }
  i32RemS(): this { return this.op(0x6f); }
  i32RemU(): this { return this.op(0x70); }
  i32And(): this { return this.op(0x71); }
  i32Or(): this { return this.op(0x72); }
  i32Xor(): this { return this.op(0x73); }
  i32Shl(): this { return this.op(0x74); }
  i32ShrS(): this { return this.op(0x75); }
  i32ShrU(): this { return this.op(0x76); }
  i32Rotl(): this { return this.op(0x77); }
  i32Rotr(): this { return this.op(0x78); }
  // i64 arithmetic
  i64Clz(): this { return this.op(0x79); }
  i64Ctz(): this { return this.op(0x7a); }
  i64Popcnt(): this { return this.op(0x7b); }
  i64Add(): this { return this.op(0x7c); }
  i64Sub(): this { return this.op(0x7d); }
  i64Mul(): this { return this.op(0x7e); }
  i64DivS(): this { return this.op(0x7f); }
  i64DivU(): this { return this.op(0x80); }
  i64RemS(): this { return this.op(0x81); }
  i64RemU(): this { return this.op(0x82); }
  i64And(): this { return this.op(0x83); }
  i64Or(): this { return this.op(0x84); }
  i64Xor(): this { return this.op(0x85); }
  i64Shl(): this { return this.op(0x86); }
  i64ShrS(): this { return this.op(0x87); }
  i64ShrU(): this { return this.op(0x88); }
  i64Rotl(): this { return this.op(0x89); }
  i64Rotr(): this { return this.op(0x8a); }
  // float arithmetic
  f32Abs(): this { return this.op(0x8b); }
  f32Neg(): this { return this.op(0x8c); }
  f32Sqrt(): this { return this.op(0x91); }
  f32Add(): this { return this.op(0x92); }
  f32Sub(): this { return this.op(0x93); }
  f32Mul(): this { return this.op(0x94); }
  f32Div(): this { return this.op(0x95); }
  f32Min(): this { return this.op(0x96); }
  f32Max(): this { return this.op(0x97); }
  f64Abs(): this { return this.op(0x99); }
  f64Neg(): this { return this.op(0x9a); }
  f64Ceil(): this { return this.op(0x9b); }
  f64Floor(): this { return this.op(0x9c); }
  f64Trunc(): this { return this.op(0x9d); }
  f64Nearest(): this { return this.op(0x9e); }
  f64Sqrt(): this { return this.op(0x9f); }
  f64Add(): this { return this.op(0xa0); }
  f64Sub(): this { return this.op(0xa1); }
  f64Mul(): this { return this.op(0xa2); }
  f64Div(): this { return this.op(0xa3); }
  f64Min(): this { return this.op(0xa4); }
  f64Max(): this { return this.op(0xa5); }
  // conversions
  i32WrapI64(): this { return this.op(0xa7); }
  i32TruncF64S(): this { return this.op(0xaa); }
  i64ExtendI32S(): this { return this.op(0xac); }
  i64ExtendI32U(): this { return this.op(0xad); }
  /** Zero-extend the low 32 bits of an i64: 2 bytes and one host move, where an AND needs a 64-bit constant. */
  zext32(): this { return this.op(0xa7).op(0xad); }
  i64TruncF64S(): this { return this.op(0xb0); }
  f32ConvertI32S(): this { return this.op(0xb2); }
  f32ConvertI64S(): this { return this.op(0xb4); }
  f32DemoteF64(): this { return this.op(0xb6); }
  f64ConvertI32S(): this { return this.op(0xb7); }
  f64ConvertI32U(): this { return this.op(0xb8); }
  f64ConvertI64S(): this { return this.op(0xb9); }
  f64ConvertI64U(): this { return this.op(0xba); }
  f64PromoteF32(): this { return this.op(0xbb); }
  i32ReinterpretF32(): this { return this.op(0xbc); }
  i64ReinterpretF64(): this { return this.op(0xbd); }
  f32ReinterpretI32(): this { return this.op(0xbe); }
  f64ReinterpretI64(): this { return this.op(0xbf); }
  i64Extend8S(): this { return this.op(0xc2); }
  i64Extend16S(): this { return this.op(0xc3); }
  i64Extend32S(): this { return this.op(0xc4); }
  i32Extend8S(): this { return this.op(0xc0); }
  i32Extend16S(): this { return this.op(0xc1); }
  /** Saturating truncations (0xFC prefix): never trap. */
  i32TruncSatF64S(): this { this.code.byte(0xfc); this.code.u32(2); return this; }
  i64TruncSatF64S(): this { this.code.byte(0xfc); this.code.u32(6); return this; }
  i64TruncSatF32S(): this { this.code.byte(0xfc); this.code.u32(4); return this; }
  i32TruncSatF32S(): this { this.code.byte(0xfc); this.code.u32(0); return this; }
  memoryCopy(): this { this.code.byte(0xfc); this.code.u32(10); this.code.byte(0); this.code.byte(0); return this; }
  memoryFill(): this { this.code.byte(0xfc); this.code.u32(11); this.code.byte(0); return this; }

  // ---- SIMD (0xFD prefix): v128 operations for the SSE semantics -----------------------------
  private simd(op: number): this { this.code.byte(0xfd); this.code.u32(op); return this; }
  private simdMem(op: number, offset: number): this { this.simd(op); this.code.u32(0); this.code.u32(offset); return this; }
  private simdLane(op: number, lane: number): this { this.simd(op); this.code.byte(lane); return this; }
  v128Load(o = 0): this { return this.simdMem(0x00, o); }
  v128Store(o = 0): this { return this.simdMem(0x0b, o); }
  v128Load32Zero(o = 0): this { return this.simdMem(0x5c, o); }
  v128Load64Zero(o = 0): this { return this.simdMem(0x5d, o); }
  /** v128.const from 16 bytes. */
  v128Const(bytes: ArrayLike<number>): this { this.simd(0x0c); for (let i = 0; i < 16; i++) this.code.byte(bytes[i] & 0xff); return this; }
  v128Zero(): this { return this.v128Const(new Uint8Array(16)); }
  /** v128 with each 32-bit lane = v. */
  v128I32x4(a: number, b = a, c = a, d = a): this { const u = new Uint32Array([a, b, c, d]); return this.v128Const(new Uint8Array(u.buffer)); }
  i8x16Shuffle(lanes: ArrayLike<number>): this { this.simd(0x0d); for (let i = 0; i < 16; i++) this.code.byte(lanes[i]); return this; }
  i8x16Swizzle(): this { return this.simd(0x0e); }
  i8x16Splat(): this { return this.simd(0x0f); }
  i16x8Splat(): this { return this.simd(0x10); }
  i32x4Splat(): this { return this.simd(0x11); }
  i64x2Splat(): this { return this.simd(0x12); }
  f32x4Splat(): this { return this.simd(0x13); }
  f64x2Splat(): this { return this.simd(0x14); }
  i8x16ExtractLaneS(l: number): this { return this.simdLane(0x15, l); }
  i8x16ExtractLaneU(l: number): this { return this.simdLane(0x16, l); }
  i8x16ReplaceLane(l: number): this { return this.simdLane(0x17, l); }
  i16x8ExtractLaneS(l: number): this { return this.simdLane(0x18, l); }
  i16x8ExtractLaneU(l: number): this { return this.simdLane(0x19, l); }
  i16x8ReplaceLane(l: number): this { return this.simdLane(0x1a, l); }
  i32x4ExtractLane(l: number): this { return this.simdLane(0x1b, l); }
  i32x4ReplaceLane(l: number): this { return this.simdLane(0x1c, l); }
  i64x2ExtractLane(l: number): this { return this.simdLane(0x1d, l); }
  i64x2ReplaceLane(l: number): this { return this.simdLane(0x1e, l); }
  f32x4ExtractLane(l: number): this { return this.simdLane(0x1f, l); }
  f32x4ReplaceLane(l: number): this { return this.simdLane(0x20, l); }
  f64x2ExtractLane(l: number): this { return this.simdLane(0x21, l); }
  f64x2ReplaceLane(l: number): this { return this.simdLane(0x22, l); }
  i8x16Eq(): this { return this.simd(0x23); }
  i8x16GtS(): this { return this.simd(0x27); }
  i8x16GtU(): this { return this.simd(0x28); }
  i16x8Eq(): this { return this.simd(0x2d); }
  i16x8GtS(): this { return this.simd(0x31); }
  i32x4Eq(): this { return this.simd(0x37); }
  i32x4GtS(): this { return this.simd(0x3b); }
  f32x4Eq(): this { return this.simd(0x41); }
  f32x4Ne(): this { return this.simd(0x42); }
  f32x4Lt(): this { return this.simd(0x43); }
  f32x4Gt(): this { return this.simd(0x44); }
  f32x4Le(): this { return this.simd(0x45); }
  f32x4Ge(): this { return this.simd(0x46); }
  f64x2Eq(): this { return this.simd(0x47); }
  f64x2Ne(): this { return this.simd(0x48); }
  f64x2Lt(): this { return this.simd(0x49); }
  f64x2Gt(): this { return this.simd(0x4a); }
  f64x2Le(): this { return this.simd(0x4b); }
  f64x2Ge(): this { return this.simd(0x4c); }
  v128Not(): this { return this.simd(0x4d); }
  v128And(): this { return this.simd(0x4e); }
  /** a & ~b */
  v128AndNot(): this { return this.simd(0x4f); }
  v128Or(): this { return this.simd(0x50); }
  v128Xor(): this { return this.simd(0x51); }
  /** (a & c) | (b & ~c) */
  v128Bitselect(): this { return this.simd(0x52); }
  v128AnyTrue(): this { return this.simd(0x53); }
  f32x4DemoteF64x2Zero(): this { return this.simd(0x5e); }
  f64x2PromoteLowF32x4(): this { return this.simd(0x5f); }
  i8x16Abs(): this { return this.simd(0x60); }
  i8x16Neg(): this { return this.simd(0x61); }
  i8x16Popcnt(): this { return this.simd(0x62); }
  i8x16AllTrue(): this { return this.simd(0x63); }
  i8x16Bitmask(): this { return this.simd(0x64); }
  i8x16NarrowI16x8S(): this { return this.simd(0x65); }
  i8x16NarrowI16x8U(): this { return this.simd(0x66); }
  f32x4Ceil(): this { return this.simd(0x67); }
  f32x4Floor(): this { return this.simd(0x68); }
  f32x4Trunc(): this { return this.simd(0x69); }
  f32x4Nearest(): this { return this.simd(0x6a); }
  i8x16Shl(): this { return this.simd(0x6b); }
  i8x16ShrS(): this { return this.simd(0x6c); }
  i8x16ShrU(): this { return this.simd(0x6d); }
  i8x16Add(): this { return this.simd(0x6e); }
  i8x16AddSatS(): this { return this.simd(0x6f); }
  i8x16AddSatU(): this { return this.simd(0x70); }
  i8x16Sub(): this { return this.simd(0x71); }
  i8x16SubSatS(): this { return this.simd(0x72); }
  i8x16SubSatU(): this { return this.simd(0x73); }
  f64x2Ceil(): this { return this.simd(0x74); }
  f64x2Floor(): this { return this.simd(0x75); }
  i8x16MinS(): this { return this.simd(0x76); }
  i8x16MinU(): this { return this.simd(0x77); }
  i8x16MaxS(): this { return this.simd(0x78); }
  i8x16MaxU(): this { return this.simd(0x79); }
  f64x2Trunc(): this { return this.simd(0x7a); }
  i8x16AvgrU(): this { return this.simd(0x7b); }
  i16x8ExtaddPairwiseI8x16S(): this { return this.simd(0x7c); }
  i16x8ExtaddPairwiseI8x16U(): this { return this.simd(0x7d); }
  i32x4ExtaddPairwiseI16x8S(): this { return this.simd(0x7e); }
  i32x4ExtaddPairwiseI16x8U(): this { return this.simd(0x7f); }
  i16x8Abs(): this { return this.simd(0x80); }
  i16x8Neg(): this { return this.simd(0x81); }
  i16x8Q15mulrSatS(): this { return this.simd(0x82); }
  i16x8Bitmask(): this { return this.simd(0x84); }
  i16x8NarrowI32x4S(): this { return this.simd(0x85); }
  i16x8NarrowI32x4U(): this { return this.simd(0x86); }
  i16x8ExtendLowI8x16S(): this { return this.simd(0x87); }
  i16x8ExtendHighI8x16S(): this { return this.simd(0x88); }
  i16x8ExtendLowI8x16U(): this { return this.simd(0x89); }
  i16x8ExtendHighI8x16U(): this { return this.simd(0x8a); }
  i16x8Shl(): this { return this.simd(0x8b); }
  i16x8ShrS(): this { return this.simd(0x8c); }
  i16x8ShrU(): this { return this.simd(0x8d); }
  i16x8Add(): this { return this.simd(0x8e); }
  i16x8AddSatS(): this { return this.simd(0x8f); }
  i16x8AddSatU(): this { return this.simd(0x90); }
  i16x8Sub(): this { return this.simd(0x91); }
  i16x8SubSatS(): this { return this.simd(0x92); }
  i16x8SubSatU(): this { return this.simd(0x93); }
  f64x2Nearest(): this { return this.simd(0x94); }
  i16x8Mul(): this { return this.simd(0x95); }
  i16x8MinS(): this { return this.simd(0x96); }
  i16x8MinU(): this { return this.simd(0x97); }
  i16x8MaxS(): this { return this.simd(0x98); }
  i16x8MaxU(): this { return this.simd(0x99); }
  i16x8AvgrU(): this { return this.simd(0x9b); }
  i16x8ExtmulLowI8x16S(): this { return this.simd(0x9c); }
  i16x8ExtmulHighI8x16S(): this { return this.simd(0x9d); }
  i16x8ExtmulLowI8x16U(): this { return this.simd(0x9e); }
  i16x8ExtmulHighI8x16U(): this { return this.simd(0x9f); }
  i32x4Abs(): this { return this.simd(0xa0); }
  i32x4Neg(): this { return this.simd(0xa1); }
  i32x4Bitmask(): this { return this.simd(0xa4); }
  i32x4ExtendLowI16x8S(): this { return this.simd(0xa7); }
  i32x4ExtendHighI16x8S(): this { return this.simd(0xa8); }
  i32x4ExtendLowI16x8U(): this { return this.simd(0xa9); }
  i32x4ExtendHighI16x8U(): this { return this.simd(0xaa); }
  i32x4Shl(): this { return this.simd(0xab); }
  i32x4ShrS(): this { return this.simd(0xac); }
  i32x4ShrU(): this { return this.simd(0xad); }
  i32x4Add(): this { return this.simd(0xae); }
  i32x4Sub(): this { return this.simd(0xb1); }
  i32x4Mul(): this { return this.simd(0xb5); }
  i32x4MinS(): this { return this.simd(0xb6); }
  i32x4MinU(): this { return this.simd(0xb7); }
  i32x4MaxS(): this { return this.simd(0xb8); }
  i32x4MaxU(): this { return this.simd(0xb9); }
  i32x4DotI16x8S(): this { return this.simd(0xba); }
  i32x4ExtmulLowI16x8S(): this { return this.simd(0xbc); }
  i32x4ExtmulHighI16x8S(): this { return this.simd(0xbd); }
  i32x4ExtmulLowI16x8U(): this { return this.simd(0xbe); }
  i32x4ExtmulHighI16x8U(): this { return this.simd(0xbf); }
  i64x2Abs(): this { return this.simd(0xc0); }
  i64x2Neg(): this { return this.simd(0xc1); }
  i64x2Bitmask(): this { return this.simd(0xc4); }
  i64x2ExtendLowI32x4S(): this { return this.simd(0xc7); }
  i64x2ExtendHighI32x4S(): this { return this.simd(0xc8); }
  i64x2ExtendLowI32x4U(): this { return this.simd(0xc9); }
  i64x2ExtendHighI32x4U(): this { return this.simd(0xca); }
  i64x2Shl(): this { return this.simd(0xcb); }
  i64x2ShrS(): this { return this.simd(0xcc); }
  i64x2ShrU(): this { return this.simd(0xcd); }
  i64x2Add(): this { return this.simd(0xce); }
  i64x2Sub(): this { return this.simd(0xd1); }
  i64x2Mul(): this { return this.simd(0xd5); }
  i64x2Eq(): this { return this.simd(0xd6); }
  i64x2GtS(): this { return this.simd(0xd9); }
  i64x2ExtmulLowI32x4S(): this { return this.simd(0xdc); }
  i64x2ExtmulLowI32x4U(): this { return this.simd(0xde); }
  f32x4Abs(): this { return this.simd(0xe0); }
  f32x4Neg(): this { return this.simd(0xe1); }
  f32x4Sqrt(): this { return this.simd(0xe3); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Mul(): this { return this.simd(0xe6); }
  f32x4Div(): this { return this.simd(0xe7); }
  f32x4Min(): this { return this.simd(0xe8); }
  f32x4Max(): this { return this.simd(0xe9); }
  /** b < a ? b : a */
  f32x4Pmin(): this { return this.simd(0xea); }
  /** a < b ? b : a */
  f32x4Pmax(): this { return this.simd(0xeb); }
  f64x2Abs(): this { return this.simd(0xec); }
  f64x2Neg(): this { return this.simd(0xed); }
  f64x2Sqrt(): this { return this.simd(0xef); }
  f64x2Add(): this { return this.simd(0xf0); }
  f64x2Sub(): this { return this.simd(0xf1); }
  f64x2Mul(): this { return this.simd(0xf2); }
  f64x2Div(): this { return this.simd(0xf3); }
  f64x2Min(): this { return this.simd(0xf4); }
  f64x2Max(): this { return this.simd(0xf5); }
  f64x2Pmin(): this { return this.simd(0xf6); }
  f64x2Pmax(): this { return this.simd(0xf7); }
  i32x4TruncSatF32x4S(): this { return this.simd(0xf8); }
  i32x4TruncSatF32x4U(): this { return this.simd(0xf9); }
  f32x4ConvertI32x4S(): this { return this.simd(0xfa); }
  f32x4ConvertI32x4U(): this { return this.simd(0xfb); }
  i32x4TruncSatF64x2SZero(): this { return this.simd(0xfc); }
  f64x2ConvertLowI32x4S(): this { return this.simd(0xfe); }
  // scalar float ops missing above
  f32Ceil(): this { return this.op(0x8d); }
  f32Floor(): this { return this.op(0x8e); }
  f32Trunc(): this { return this.op(0x8f); }
  f32Nearest(): this { return this.op(0x90); }
  f32Copysign(): this { return this.op(0x98); }
  f64Copysign(): this { return this.op(0xa6); }
  i32TruncF32S(): this { return this.op(0xa8); }
  i64TruncF32S(): this { return this.op(0xae); }
  f32ConvertI32U(): this { return this.op(0xb3); }
  f32ConvertI64U(): this { return this.op(0xb5); }
  i32TruncSatF64U(): this { this.code.byte(0xfc); this.code.u32(3); return this; }
  i64TruncSatF64U(): this { this.code.byte(0xfc); this.code.u32(7); return this; }
  selectT(t: T): this { this.code.byte(0x1c); this.code.u32(1); this.code.byte(t); return this; }
}
