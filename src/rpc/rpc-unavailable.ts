import { BrokerUnavailableError } from '../rooms/room-broker';
import { RpcError, RpcErrorCode } from '../protocol/rpc.protocol';

/** What the Redis client says when a command never got its answer: the store, not the call, failed. */
const CLIENT_FAILURES = [
  /^Command timed out/,
  /^Connection is closed/,
  /^Stream isn't writeable/,
  /^Reached the max retries per request limit/,
  /^Command aborted/,
];
/** Error replies of a Redis that is there but cannot serve yet (loading, a script running, failover). */
const UNSERVED_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|READONLY)\b/;
/** Socket errors of a connection that broke. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** ioredis' errors of a command abandoned with its connection (redis-errors' AbortError family). */
const ABORT_NAMES = new Set(['AbortError', 'InterruptError', 'MaxRetriesPerRequestError']);

/**
 * Whether `error` says that the shared store (Redis) was unreachable or did not answer in time,
 * whatever layer let it through: such a failure is the caller's to retry, never a result. A command
 * that timed out may still have been run by Redis; the caller's retry under the same idempotency
 * key finds it.
 */
export function isUnavailability(error: unknown): boolean {
  if (error instanceof BrokerUnavailableError) return true;
  if (error instanceof RpcError) return error.code === RpcErrorCode.Unavailable;
  if (!(error instanceof Error)) return false;
  if (ABORT_NAMES.has(error.name)) return true;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && SOCKET_CODES.has(code)) return true;
  return (
    CLIENT_FAILURES.some((pattern) => pattern.test(error.message)) ||
    UNSERVED_REPLY.test(error.message)
  );
}

/** The answer to a call that failed for want of Redis: `unavailable`, retryable. */
export function unavailableError(): RpcError {
  return new RpcError(RpcErrorCode.Unavailable, 'the server could not reach its store; retry', {
    retryable: true,
  });
}
