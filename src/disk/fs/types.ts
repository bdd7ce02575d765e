import { FsError } from './errors.js';

export type NodeKind = 'file' | 'dir' | 'symlink' | 'other';

export interface DirEntry {
  name: string;
  kind: NodeKind;
}

export interface Stat {
  kind: NodeKind;
  size: number;
}

/** Read-only view of a filesystem, paths absolute from its root ('/' separated). */
export interface FileSystem {
  readonly type: 'ext2' | 'ext3' | 'ext4' | 'fat12' | 'fat16' | 'fat32';
  readonly label: string;
  /** Follows symlinks, including in the last component. */
  readFile(path: string): Uint8Array;
  readDir(path: string): DirEntry[];
  /** Null when the path does not exist; other problems (corruption, loops) still throw. */
  stat(path: string): Stat | null;
}

/** The primitives a concrete filesystem supplies; path walking is shared. */
export interface NodeOps<N> {
  root(): N;
  kind(n: N): NodeKind;
  lookup(dir: N, name: string): N | null;
  readlink(n: N): string;
}

/** Linux's limit: enough for any sane chain, small enough that a loop fails fast. */
export const MAX_SYMLINKS = 40;

/**
 * Resolves PATH from the root. Symlinks are expanded textually against the stack of parent
 * directories, so '..' after a symlink goes where the kernel would send it.
 */
export function resolvePath<N>(ops: NodeOps<N>, path: string, followLast = true): N {
  let budget = MAX_SYMLINKS;
  let stack: N[] = [ops.root()];
  let todo = splitPath(path);
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const dir = stack[stack.length - 1]!;
    if (ops.kind(dir) !== 'dir') throw new FsError('notdir', `${path}: not a directory`);
    const n = ops.lookup(dir, name);
    if (n === null) throw new FsError('notfound', `${path}: no such file or directory`);
    if (ops.kind(n) === 'symlink' && (todo.length > 0 || followLast)) {
      if (--budget < 0) throw new FsError('loop', `${path}: too many levels of symbolic links`);
      const target = ops.readlink(n);
      if (target === '') throw new FsError('notfound', `${path}: empty symbolic link`);
      if (target.startsWith('/')) stack = [ops.root()];
      todo = [...splitPath(target), ...todo];
      continue;
    }
    stack.push(n);
  }
  return stack[stack.length - 1]!;
}

export function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s !== '');
}

/** Joins and normalises textually (no symlink awareness): for config-relative boot paths. */
export function joinPath(base: string, rel: string): string {
  const parts = rel.startsWith('/') ? [] : splitPath(base);
  for (const s of splitPath(rel)) {
    if (s === '.') continue;
    if (s === '..') parts.pop();
    else parts.push(s);
  }
  return '/' + parts.join('/');
}

export function dirname(p: string): string {
  const parts = splitPath(p);
  parts.pop();
  return '/' + parts.join('/');
}
