import type { AnswerLease } from '../common/answer-pool';
import type { Principal } from '../protocol/principal';
import type { Session } from '../transport/session';

/**
 * Who makes a call. Backends (the Redis Streams bridge, the HTTP API) may call every method; a
 * socket calls as its session, under its token's claims (`principal` undefined with AUTH_MODE=none).
 */
export type RpcCaller =
  | {
      readonly kind: 'backend';
      readonly via: 'redis' | 'http';
      /** The request's share of the pool of answer bytes, given back once its answer is sent. */
      readonly answers?: AnswerLease;
      /** Makes the call's publications idempotent (see `RoomBroker.publish`). */
      readonly idempotencyKey?: string;
      /** Called once the call's publication has its place in its room (`PublishOptions.onOrdered`). */
      readonly onOrdered?: () => void;
    }
  | {
      readonly kind: 'socket';
      readonly session: Session;
      readonly principal: Principal | undefined;
      /** Makes the call's publications idempotent (see `RoomBroker.publish`). */
      readonly idempotencyKey?: string;
      /** Called once the call's publication has its place in its room (`PublishOptions.onOrdered`). */
      readonly onOrdered?: () => void;
    };

/**
 * Runs one call: looks the method up, validates `params` against its DTO, checks the caller's
 * permission, executes it, and resolves with its result (a JSON value). Rejects with an RpcError
 * the caller may act on; any other rejection is a server fault (answered `internal_error`).
 */
export interface RpcDispatcher {
  call(method: string, params: unknown, caller: RpcCaller): Promise<unknown>;

  /**
   * The room a call would publish into, known before running it: the `room` of the method's
   * definition applied to its validated params. Undefined for a method without a room, or for
   * params that do not validate (the call itself fails then). Callers that order calls per room
   * (the bridge, the HTTP API) key their sequencer with it.
   */
  roomOf(method: string, params: unknown): string | undefined;

  /**
   * Whether `method` is a query (permission `query`): it changes nothing, so running it twice is
   * harmless. The bridge keeps no dedup record for it. False for an unknown method.
   */
  isQuery(method: string): boolean;
}

/** Injection token of the RpcDispatcher port. */
export const RpcDispatcher = Symbol('RpcDispatcher');
