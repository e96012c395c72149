import { Injectable } from '@nestjs/common';
import { RpcError, RpcErrorCode } from '../protocol/rpc.protocol';
import type { RpcCaller, RpcDispatcher } from './rpc-dispatcher';
import type { RpcMethodDefinition } from './rpc-method';

/**
 * The methods the server answers, by name, registered by any module (the core's and extensions').
 * Skeleton: lookup and execution; validation and permissions are still to come.
 */
@Injectable()
export class RpcRegistry implements RpcDispatcher {
  private readonly methods = new Map<string, RpcMethodDefinition>();

  register<P extends object, R>(definition: RpcMethodDefinition<P, R>): void {
    if (this.methods.has(definition.name)) {
      throw new Error(`RPC method ${definition.name} is registered twice`);
    }
    this.methods.set(definition.name, definition as unknown as RpcMethodDefinition);
  }

  /** Every registered method, in registration order. */
  list(): readonly RpcMethodDefinition[] {
    return [...this.methods.values()];
  }

  async call(method: string, params: unknown, caller: RpcCaller): Promise<unknown> {
    const definition = this.methods.get(method);
    if (!definition) {
      throw new RpcError(RpcErrorCode.MethodNotFound, `method ${method} does not exist`);
    }
    return definition.handler(params as object, caller);
  }
}
