import type { JsonSchema } from '../protocol/json-schema';
import type { RpcCaller } from './rpc-dispatcher';

/**
 * Who may call a method from a socket (backends may call every method):
 * - `query`: any connection (authenticated when AUTH_MODE=jwt); a query only reads (or changes
 *   only the calling socket's own state): running it twice must change nothing, since the bridge
 *   keeps no dedup record for it and a redelivery runs it again;
 * - `publish`: a connection whose token's `publish` claim matches the method's room (any with
 *   AUTH_MODE=none);
 * - `backend`: no socket, ever.
 */
export type RpcPermission = 'query' | 'publish' | 'backend';

/** A params DTO: a class-validator decorated class, instantiated from the plain params. */
export type ParamsClass<P extends object> = new () => P;

/**
 * The class describing a method's result, for the generated clients and docs only: results are
 * not validated (they are the server's own values).
 */
export type ResultClass = new (...args: never[]) => object;

/** What a method is, besides its handler: the options of `@RpcMethod`, too. */
export interface RpcMethodOptions<P extends object = object> {
  /** Dotted snake_case, as seed 003 names them: `workspace.file_changed` ([A-Za-z0-9_.], ≤ 100). */
  readonly name: string;
  readonly params: ParamsClass<P>;
  readonly permission: RpcPermission;
  /** The room a `publish` method writes into, from its validated params (required for `publish`). */
  readonly room?: (params: P) => string;
  /** One line for the generated clients and docs. */
  readonly description?: string;
  /**
   * The shape of the result, for the contract (`npm run generate`): a class-validator decorated
   * class, or the schema table of the result's interface. Absent: any JSON value.
   */
  readonly result?: ResultClass | JsonSchema;
  /** The method publishes a room event named after it whose `data` is its validated params. */
  readonly event?: boolean;
  /** A call and its answer for the contract's examples (a test checks them against the schemas). */
  readonly example?: RpcMethodExample<NoInfer<P>>;
}

export interface RpcMethodExample<P extends object> {
  readonly params: P;
  readonly result?: unknown;
}

/** One method as registered: what generates the clients and the AsyncAPI document later, too. */
export interface RpcMethodDefinition<
  P extends object = object,
  R = unknown,
> extends RpcMethodOptions<P> {
  /**
   * Runs the call with the validated params (an instance of `params`, unknown properties
   * stripped); resolves with a JSON value. An RpcError it throws reaches the caller as it is;
   * anything else is logged and answered `internal_error`.
   */
  readonly handler: (params: P, caller: RpcCaller) => Promise<R> | R;
}
