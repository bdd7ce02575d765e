// Stack access shared by push/pop/call/ret semantics.
import type { Gen } from './gen.js';
import { MODE_SS32 } from '../mode.js';

/** Stack address size in bytes for the current mode. */
export function stackAddrSize(g: Gen): number {
  return g.is64 ? 8 : g.mode & MODE_SS32 ? 4 : 2;
}

function maskSp(g: Gen, sz: number): void {
  if (sz === 4) g.f.zext32();
  else if (sz === 2) g.f.i64(0xffff, 0).i64And();
}

/** Push local `val` (n bytes). The memory write happens before RSP changes, so a fault leaves RSP intact. */
export function push(g: Gen, val: number, n: number): void {
  const f = g.f;
  const sz = stackAddrSize(g);
  const sp = g.tmp64();
  g.getGprWidth(4, sz); f.i64(n, 0).i64Sub(); maskSp(g, sz); f.set(sp);
  f.get(sp);
  const addr = g.linearizeTo(2, n, true);
  g.store(addr, n, val);
  g.setGprWidthFrom(4, sz, sp);
}

/** Pop n bytes into a new local (returned). RSP is updated only after the read succeeded. */
export function pop(g: Gen, n: number, extra = 0): number {
  const f = g.f;
  const sz = stackAddrSize(g);
  const sp = g.tmp64(), v = g.tmp64();
  g.getGprWidth(4, sz); f.set(sp);
  f.get(sp);
  const addr = g.linearizeTo(2, n, false);
  g.load(addr, n); f.set(v);
  f.get(sp).i64(n + extra, 0).i64Add(); maskSp(g, sz); f.set(sp);
  g.setGprWidthFrom(4, sz, sp);
  return v;
}

/** Read the n-byte value at the top of the stack (offset `off`) without popping. */
export function peek(g: Gen, n: number, off: number): number {
  const f = g.f;
  const sz = stackAddrSize(g);
  const v = g.tmp64();
  g.getGprWidth(4, sz); if (off) f.i64(off, 0).i64Add(); maskSp(g, sz);
  const addr = g.linearizeTo(2, n, false);
  g.load(addr, n); f.set(v);
  return v;
}
