import type { RpcCaller } from './rpc-dispatcher';

/**
 * The broker's idempotency key of a call's publications (see `RoomBroker.publish`), namespaced
 * so that callers cannot collide: backends (the bridge's and the HTTP API's correlation ids and
 * `Idempotency-Key`s) share `b/<key>`; a socket's `idempotency_key` is its user's,
 * `s/<user>/<key>` (a user id holds no `/`). Undefined when the call carries no key.
 */
export function idempotencyKeyOf(caller: RpcCaller | undefined): string | undefined {
  const key = caller?.idempotencyKey;
  if (caller === undefined || key === undefined) return undefined;
  if (caller.kind === 'backend') return `b/${key}`;
  const { session, principal } = caller;
  const user = principal?.userId ?? session.userId ?? `anon:${session.id}`;
  return `s/${user}/${key}`;
}
