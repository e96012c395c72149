/**
 * A Redis connection's state in the words health and logs use, whatever the client library calls
 * it: an operator reads "reconnecting", not a socket error.
 */
export type RedisConnectionState =
  'connected' | 'connecting' | 'reconnecting' | 'not answering' | 'refusing commands' | 'closed';

/** What health says about each state (the instance's members are served locally meanwhile). */
export const REDIS_STATE_MESSAGES: Readonly<Record<RedisConnectionState, string>> = {
  connected: 'connected to Redis',
  connecting: 'connecting to Redis; membership served locally, messages refused',
  reconnecting: 'Redis is not reachable, reconnecting; membership served locally, messages refused',
  'not answering': 'Redis does not answer in time; membership served locally, messages refused',
  'refusing commands': 'Redis refuses commands; membership served locally, messages refused',
  closed: 'the Redis connection is closed',
};

/** The state of an ioredis client from its `status`. */
export function connectionState(status: string): RedisConnectionState {
  switch (status) {
    case 'ready':
      return 'connected';
    case 'reconnecting':
      return 'reconnecting';
    case 'close':
    case 'end':
      return 'closed';
    default:
      // 'wait' (not started), 'connecting', 'connect' (TCP up, not yet ready)
      return 'connecting';
  }
}

/**
 * What a failed command says about the connection: no answer in time, or an error reply whose
 * code (`OOM`, `NOAUTH`, `LOADING`…) is Redis' own word; anything else is the connection failing.
 */
export function failureState(error: unknown): { state: RedisConnectionState; code?: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (/timed out|timeout/i.test(message)) return { state: 'not answering' };
  const code = redisErrorCode(message);
  if (code !== undefined) return { state: 'refusing commands', code };
  return { state: 'reconnecting' };
}

/** The code of a Redis error reply (`OOM command not allowed…` → `OOM`), or undefined. */
export function redisErrorCode(message: string): string | undefined {
  return /^([A-Z][A-Z_]+)(?:\s|$)/.exec(message)?.[1];
}
