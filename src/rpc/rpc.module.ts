import { Global, MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AuthModule } from '../auth/auth.module';
import { AnswerPool } from '../common/answer-pool';
import { AppConfig } from '../config/app-config';
import { JsonBodyMiddleware } from '../transport/json-body.middleware';
import { ApiKeyMiddleware } from './api-key.middleware';
import { KeyedSequencer } from './keyed-sequencer';
import { RpcController } from './rpc.controller';
import { RpcDispatcher } from './rpc-dispatcher';
import { RpcExplorer } from './rpc-explorer';
import { RpcHttpApi } from './rpc-http-api';
import { RpcRegistry } from './rpc-registry';
import { RpcGateway } from './rpc.gateway';

/**
 * The method registry, global: feature modules register their methods into it (`register()` or
 * `@RpcMethod`). Callers: the socket (RpcGateway, `{type:"rpc"}` on `/` and `/ws`), the HTTP
 * API (`POST /api/rpc`) and the Redis bridge, all through RpcDispatcher.
 */
@Global()
@Module({
  imports: [DiscoveryModule, AuthModule],
  controllers: [RpcController],
  providers: [
    RpcRegistry,
    { provide: RpcDispatcher, useExisting: RpcRegistry },
    RpcExplorer,
    RpcGateway,
    RpcHttpApi,
    // The per-room order of backend calls, one per instance, shared by the bridge and the HTTP API.
    KeyedSequencer,
    // The bytes of history answers held for backends at once, shared by the bridge and the HTTP API.
    {
      provide: AnswerPool,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        new AnswerPool(config.HISTORY_ANSWERS_MAX_BYTES, config.HISTORY_MAX_ANSWER_BYTES),
    },
  ],
  exports: [RpcRegistry, RpcDispatcher, KeyedSequencer, AnswerPool],
})
export class RpcModule implements NestModule {
  /** The key first: a caller without it gets 401 before its body is read. */
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(ApiKeyMiddleware, JsonBodyMiddleware)
      .forRoutes({ path: 'api/rpc', method: RequestMethod.POST });
  }
}
