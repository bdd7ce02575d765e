import * as fs from 'node:fs';

/**
 * The container a disk format lives in. Separated from the formats so the parser can be
 * fuzzed in memory and so every byte written goes through one place.
 */
export interface ImageFile {
  readonly path: string | null;
  readonly readOnly: boolean;
  size(): number;
  /** Reads up to buf.length bytes; returns the count, short only at end of file. */
  read(buf: Uint8Array, position: number): number;
  write(buf: Uint8Array, position: number): void;
  truncate(size: number): void;
  sync(): void;
  close(): void;
}

export class FdFile implements ImageFile {
  private fd: number;
  private cachedSize: number;

  constructor(readonly path: string, readonly readOnly: boolean, mode: 'open' | 'create' = 'open') {
    const flags = mode === 'create' ? 'wx+' : readOnly ? 'r' : 'r+';
    this.fd = fs.openSync(path, flags);
    const st = fs.fstatSync(this.fd);
    if (st.isDirectory()) {
      fs.closeSync(this.fd);
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    this.cachedSize = st.size;
  }

  size(): number {
    return this.cachedSize;
  }

  read(buf: Uint8Array, position: number): number {
    let done = 0;
    while (done < buf.length) {
      const n = fs.readSync(this.fd, buf, done, buf.length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  write(buf: Uint8Array, position: number): void {
    if (this.readOnly) throw new Error(`${this.path}: opened read-only`);
    let done = 0;
    while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done, position + done);
    if (position + buf.length > this.cachedSize) this.cachedSize = position + buf.length;
  }

  truncate(size: number): void {
    fs.ftruncateSync(this.fd, size);
    this.cachedSize = size;
  }

  sync(): void {
    if (!this.readOnly) fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** An image held in memory: fuzzing and tests, never user data. */
export class MemFile implements ImageFile {
  readonly path: string | null = null;
  private data: Uint8Array;
  private length: number;

  constructor(initial: Uint8Array = new Uint8Array(0), readonly readOnly = false) {
    this.data = initial;
    this.length = initial.length;
  }

  bytes(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  size(): number {
    return this.length;
  }

  read(buf: Uint8Array, position: number): number {
    if (position >= this.length) return 0;
    const n = Math.min(buf.length, this.length - position);
    buf.set(this.data.subarray(position, position + n));
    return n;
  }

  write(buf: Uint8Array, position: number): void {
    if (this.readOnly) throw new Error('in-memory image opened read-only');
    this.ensure(position + buf.length);
    this.data.set(buf, position);
  }

  truncate(size: number): void {
    this.ensure(size);
    this.data.fill(0, size, this.length);
    this.length = size;
  }

  sync(): void {}
  close(): void {}

  private ensure(end: number): void {
    if (end > this.data.length) {
      const grown = new Uint8Array(Math.max(end, this.data.length * 2));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    if (end > this.length) this.length = end;
  }
}
