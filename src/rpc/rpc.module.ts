import { Global, Module } from '@nestjs/common';
import { RpcDispatcher } from './rpc-dispatcher';
import { RpcRegistry } from './rpc-registry';

/** The method registry, global: feature modules register their methods into it. */
@Global()
@Module({
  providers: [RpcRegistry, { provide: RpcDispatcher, useExisting: RpcRegistry }],
  exports: [RpcRegistry, RpcDispatcher],
})
export class RpcModule {}
