import { SetMetadata } from '@nestjs/common';
import type { RpcCaller } from './rpc-dispatcher';
import type { RpcMethodOptions } from './rpc-method';

/** Metadata key of `@RpcMethod` on a provider's method; read by RpcExplorer. */
export const RPC_METHOD_METADATA = 'pixide:rpc-method';

/**
 * Registers the decorated method of a provider (or controller) as an RPC method, found at
 * bootstrap: any module's provider can add methods without touching the core.
 *
 * ```ts
 * @Injectable()
 * export class TeamMethods {
 *   @RpcMethod({ name: 'team.ping', params: TeamPingParams, permission: 'query' })
 *   ping(params: TeamPingParams, caller: RpcCaller): { pong: number } {
 *     return { pong: params.seq };
 *   }
 * }
 * ```
 *
 * The method gets the validated params (an instance of `params`) and the caller. A provider that
 * is request-scoped or transient is not discovered (there is no one instance to call).
 */
export function RpcMethod<P extends object>(options: RpcMethodOptions<P>) {
  return <M extends (params: P, caller: RpcCaller) => unknown>(
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    SetMetadata(RPC_METHOD_METADATA, options)(target, key, descriptor);
  };
}
