/**
 * The start cannot go on because of something outside the code (a dependency that is too old);
 * the entry point prints its message alone, without a stack trace, and exits non-zero.
 */
export class StartRefusedError extends Error {
  override readonly name = 'StartRefusedError';
}
