import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DiskFormatError } from './errors.js';
import { FdFile } from './image-file.js';

/**
 * Produces DST through a temporary file beside it, renamed into place only once complete,
 * so a failed or killed run never leaves a partial image under the name the user asked for.
 */
export function withAtomicOutput<T>(dst: string, build: (file: FdFile) => T): T {
  const target = path.resolve(dst);
  if (fs.existsSync(target)) throw new DiskFormatError(`${dst} already exists; refusing to overwrite it`);
  const dir = path.dirname(target);
  if (!fs.existsSync(dir)) throw new DiskFormatError(`directory ${dir} does not exist`);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let file: FdFile | null = null;
  try {
    file = new FdFile(tmp, false, 'create');
    const result = build(file);
    file.sync();
    file.close();
    file = null;
    fs.renameSync(tmp, target);
    return result;
  } catch (e) {
    try {
      file?.close();
    } catch {
      /* the original error matters more */
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
