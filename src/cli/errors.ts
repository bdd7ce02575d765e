/** An error caused by the user's input (bad flag, unreadable or malformed file): one line, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
