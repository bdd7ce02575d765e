import { DiskFormatError } from '../errors.js';

/**
 * What went wrong inside a filesystem or partition table. Callers looking for a boot
 * configuration treat 'notfound' as "try the next candidate" and everything else as a real
 * problem, so the code matters more than the wording.
 */
export type FsErrorCode = 'notfound' | 'notdir' | 'isdir' | 'loop' | 'corrupt' | 'unsupported' | 'toolarge';

export class FsError extends DiskFormatError {
  constructor(
    readonly code: FsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FsError';
  }
}

export const corrupt = (msg: string): FsError => new FsError('corrupt', msg);
