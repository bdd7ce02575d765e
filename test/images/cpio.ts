/**
 * A writer for the cpio "newc" (SVR4 without CRC) format, the only one the kernel's
 * initramfs unpacker accepts: a 110-byte ASCII header of thirteen 8-digit hex fields, the
 * NUL-terminated name, then the data, both padded to 4 bytes; closed by "TRAILER!!!".
 */

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

export interface CpioEntry {
  /** Path inside the archive, without a leading slash; parents must come earlier. */
  name: string;
  /** File type and permission bits (S_IF* | 0o755 …). */
  mode: number;
  /** File contents, or the link target of a symlink. */
  data?: Uint8Array | string;
  /** Device numbers of a character or block device node. */
  rdev?: { major: number; minor: number };
  mtime?: number;
}

const MAGIC = '070701';
const HEADER_BYTES = 110;
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function field(v: number): string {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`cpio field value ${v} does not fit in 32 bits`);
  return v.toString(16).toUpperCase().padStart(8, '0');
}

/** Builds the archive. Inode numbers are handed out in order so no two entries look like hard links. */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let ino = 1;
  const emit = (e: CpioEntry, inode: number) => {
    const name = enc.encode(e.name.replace(/^\/+/, '') + '\0');
    const data = typeof e.data === 'string' ? enc.encode(e.data) : e.data ?? new Uint8Array(0);
    const isDir = (e.mode & 0o170000) === S_IFDIR;
    // Directories start with two links (itself and ".."); the kernel only counts regular files.
    const fields = [
      inode, e.mode, 0, 0, isDir ? 2 : 1, e.mtime ?? 0, data.length,
      0, 0, e.rdev?.major ?? 0, e.rdev?.minor ?? 0, name.length, 0,
    ];
    const header = enc.encode(MAGIC + fields.map(field).join(''));
    parts.push(header, name, new Uint8Array(pad4(HEADER_BYTES + name.length)), data, new Uint8Array(pad4(data.length)));
  };
  for (const e of entries) emit(e, ino++);
  emit({ name: 'TRAILER!!!', mode: 0 }, 0);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
