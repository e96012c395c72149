import { setTimeout as delay } from 'node:timers/promises';

/** How long `eventually` polls unless told otherwise. */
export const EVENTUALLY_TIMEOUT_MS = 5_000;

export interface EventuallyOptions<T> {
  /** When the value read is the awaited one; by default, when it is truthy. */
  done?: (value: T) => boolean;
  /** Bound on the wait (default EVENTUALLY_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Pause between two reads (default 10 ms). */
  intervalMs?: number;
}

/**
 * The one poll of the tests and scripts, for state that has no event to wait for (a count the
 * server updates a moment after a close, a key Redis expires). Reads `read` until `done` holds
 * for its value and returns that value; past the bound, fails naming `what` and the last value
 * read. `what` may be a function, for a description that is only worth building on a failure
 * (an inbox dump). A number for `options` is the timeout.
 */
export async function eventually<T>(
  what: string | (() => string | Promise<string>),
  read: () => T | Promise<T>,
  options: number | EventuallyOptions<T> = {},
): Promise<T> {
  const {
    done = Boolean,
    timeoutMs = EVENTUALLY_TIMEOUT_MS,
    intervalMs = 10,
  } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      const description = typeof what === 'string' ? what : await what();
      const last = typeof value === 'boolean' ? '' : `; last value: ${show(value)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${last}`);
    }
    await delay(intervalMs);
  }
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** `promise`, or a failure naming `what` if it has not settled within `timeoutMs`. */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  timeoutMs = EVENTUALLY_TIMEOUT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen in time`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
