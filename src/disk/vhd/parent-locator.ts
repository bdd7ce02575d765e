import * as path from 'node:path';
import type { ImageFile } from '../image-file.js';
import { decodeUtf16, encodeUtf16, type ParentLocatorEntry, PlatformCode } from './dynamic-header.js';

/** A decoded parent locator: where a differencing disk says its parent lives. */
export interface ParentLocation {
  kind: 'relative' | 'absolute';
  platform: string;
  path: string;
}

const PLATFORM_NAMES: Record<number, string> = {
  [PlatformCode.Wi2r]: 'Wi2r',
  [PlatformCode.Wi2k]: 'Wi2k',
  [PlatformCode.W2ru]: 'W2ru',
  [PlatformCode.W2ku]: 'W2ku',
  [PlatformCode.Mac]: 'Mac ',
  [PlatformCode.MacX]: 'MacX',
};

export function platformName(code: number): string {
  return PLATFORM_NAMES[code] ?? `0x${code.toString(16)}`;
}

const MAX_LOCATOR_BYTES = 64 * 1024;

/** Reads and decodes every locator we understand; unreadable ones are skipped, not fatal. */
export function readParentLocations(file: ImageFile, entries: ParentLocatorEntry[]): ParentLocation[] {
  const out: ParentLocation[] = [];
  for (const e of entries) {
    if (e.dataLength === 0 || e.dataLength > MAX_LOCATOR_BYTES) continue;
    if (!Number.isSafeInteger(e.dataOffset) || e.dataOffset < 0 || e.dataOffset + e.dataLength > file.size()) continue;
    const raw = new Uint8Array(e.dataLength);
    if (file.read(raw, e.dataOffset) !== raw.length) continue;
    const loc = decodeLocator(e.code, raw);
    if (loc && loc.path) out.push(loc);
  }
  // Relative first: an image tree copied elsewhere keeps working, as the spec recommends.
  return out.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'relative' ? -1 : 1));
}

function decodeLocator(code: number, raw: Uint8Array): ParentLocation | null {
  const platform = platformName(code);
  switch (code) {
    case PlatformCode.W2ru:
      return { kind: 'relative', platform, path: decodeUtf16(raw, true) };
    case PlatformCode.W2ku:
      return { kind: 'absolute', platform, path: decodeUtf16(raw, true) };
    case PlatformCode.Wi2r:
      return { kind: 'relative', platform, path: latin1(raw) };
    case PlatformCode.Wi2k:
      return { kind: 'absolute', platform, path: latin1(raw) };
    case PlatformCode.MacX: {
      const url = Buffer.from(raw).toString('utf8').replace(/\0.*$/s, '');
      const p = url.startsWith('file://') ? safeDecode(url.slice(7)) : url;
      return { kind: p.startsWith('/') ? 'absolute' : 'relative', platform, path: p };
    }
    default:
      return null;
  }
}

function latin1(raw: Uint8Array): string {
  return Buffer.from(raw).toString('latin1').replace(/\0.*$/s, '');
}

function safeDecode(s: string): string {
  try {
    return decodeURI(s);
  } catch {
    return s;
  }
}

/**
 * Candidate host paths for a locator, in the order to try. Windows paths become POSIX paths;
 * a drive-letter path cannot exist here, so its file name is looked up beside the child.
 */
export function candidatePaths(loc: ParentLocation, childPath: string): string[] {
  const dir = path.dirname(childPath);
  const p = loc.path.replace(/\\/g, '/');
  if (/^[A-Za-z]:\//.test(p) || p.startsWith('//')) return [path.join(dir, path.posix.basename(p))];
  if (loc.kind === 'relative' || !p.startsWith('/')) return [path.resolve(dir, p)];
  return [p];
}

/** Locator payloads vmrun writes for a parent: W2ru (relative), W2ku (absolute), MacX (URL). */
export function encodeLocators(childPath: string, parentPath: string): Array<{ code: number; data: Uint8Array }> {
  const abs = path.resolve(parentPath);
  let rel = path.relative(path.dirname(path.resolve(childPath)), abs).split(path.sep).join('\\');
  if (!rel.startsWith('..')) rel = `.\\${rel}`;
  return [
    { code: PlatformCode.W2ru, data: encodeUtf16(rel, true) },
    { code: PlatformCode.W2ku, data: encodeUtf16(abs, true) },
    { code: PlatformCode.MacX, data: new Uint8Array(Buffer.from(`file://${encodeURI(abs)}`, 'utf8')) },
  ];
}
