import { Global, Module } from '@nestjs/common';
import { AnswerPool } from '../common/answer-pool';
import { AppConfig } from '../config/app-config';
import { RedisConnections } from '../redis/redis-connections';
import { KeyedSequencer } from '../rpc/keyed-sequencer';
import { RpcDispatcher } from '../rpc/rpc-dispatcher';
import { RpcBridge } from './rpc-bridge';

/**
 * The backend bridge on Redis Streams, composed by AppModule only when REDIS_URL is set. Global so
 * that the health indicator finds the bridge when it runs (and does without it when not).
 */
@Global()
@Module({
  providers: [
    {
      provide: RpcBridge,
      inject: [RedisConnections, AppConfig, RpcDispatcher, KeyedSequencer, AnswerPool],
      useFactory: (
        redis: RedisConnections,
        config: AppConfig,
        dispatcher: RpcDispatcher,
        sequencer: KeyedSequencer,
        answers: AnswerPool,
      ) => new RpcBridge(redis, config, dispatcher, sequencer, answers),
    },
  ],
  exports: [RpcBridge],
})
export class BridgeModule {}
