import type { RpcCaller } from './rpc-dispatcher';

/**
 * Who may call a method from a socket (backends may call every method):
 * - `query`: any connection (authenticated when AUTH_MODE=jwt);
 * - `publish`: a connection whose token's `publish` claim matches the method's room (any with
 *   AUTH_MODE=none);
 * - `backend`: no socket, ever.
 */
export type RpcPermission = 'query' | 'publish' | 'backend';

/** A params DTO: a class-validator decorated class, instantiated from the plain params. */
export type ParamsClass<P extends object> = new () => P;

/** One method as registered: what generates the clients and the AsyncAPI document later, too. */
export interface RpcMethodDefinition<P extends object = object, R = unknown> {
  /** Dotted snake_case, as seed 003 names them: `workspace.file_changed`. */
  readonly name: string;
  readonly params: ParamsClass<P>;
  readonly permission: RpcPermission;
  /** The room a `publish` method writes into, from its validated params. */
  readonly room?: (params: P) => string;
  /** One line for the generated clients and docs. */
  readonly description?: string;
  /** Runs the call with validated params; resolves with a JSON value. */
  readonly handler: (params: P, caller: RpcCaller) => Promise<R>;
}
