/**
 * A disk image that cannot be used as it stands: wrong magic, broken checksum, truncated,
 * or fields that contradict each other. The message is one line, fit to show a user.
 */
export class DiskFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiskFormatError';
  }
}

/** Normalises anything thrown while reading a hostile image into one printable line. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
    if (code === 'EISDIR') return 'is a directory';
    return e.message.split('\n')[0] ?? String(e);
  }
  return String(e);
}
