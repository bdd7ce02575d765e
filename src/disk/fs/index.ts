import type { BlockDevice } from '../block-device.js';
import { ExtFs, isExt } from './ext.js';
import { FatFs, isFat } from './fat.js';
import type { FileSystem } from './types.js';
import { Volume } from './volume.js';

export { ExtFs } from './ext.js';
export { FatFs } from './fat.js';
export { FsError, type FsErrorCode } from './errors.js';
export { Volume } from './volume.js';
export { MemDevice } from './mem-device.js';
export { type DirEntry, type FileSystem, type NodeKind, type Stat, joinPath, dirname } from './types.js';

export interface OpenFsOptions {
  maxFileSize?: number;
}

/**
 * The filesystem at START..START+SIZE of DEV, or null when it is none vmrun reads. A volume
 * that is recognised but broken or uses unsupported features throws FsError.
 */
export function openFileSystem(dev: BlockDevice, start: number, size: number, opts: OpenFsOptions = {}): FileSystem | null {
  const vol = new Volume(dev, start, size);
  if (isExt(vol)) return new ExtFs(vol, opts);
  if (isFat(vol)) return new FatFs(vol, opts);
  return null;
}
