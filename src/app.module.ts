import { DynamicModule, Module, ModuleMetadata } from '@nestjs/common';
import { BridgeModule } from './bridge/bridge.module';
import { ChatModule } from './chat/chat.module';
import { AppConfig, redisConfigured } from './config/app-config';
import { AppConfigModule } from './config/app-config.module';
import { HealthModule } from './health/health.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { RedisRoomsModule } from './redis/redis-rooms.module';
import { InMemoryRoomsModule } from './rooms/in-memory-rooms.module';
import { RoomsModule } from './rooms/rooms.module';
import { RpcModule } from './rpc/rpc.module';
import { EventsModule } from './events/events.module';
import { ContractModule } from './contract/contract.module';

/**
 * The composition root: the one place that reads which backend runs. Without REDIS_URL the
 * in-memory implementations (nothing outside the process), with it the Redis ones, shared by
 * every instance.
 */
@Module({})
export class AppModule {
  /** `extensions`: feature modules beside the core ones (their gateways add message types). */
  static forRoot(config: AppConfig, extensions: ModuleMetadata['imports'] = []): DynamicModule {
    const redis = redisConfigured(config);
    const backend = redis ? RedisRoomsModule : InMemoryRoomsModule;
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        LifecycleModule,
        RoomsModule.forRoot(backend),
        RpcModule,
        // Backends call the methods through Redis Streams; without Redis, through the HTTP API.
        ...(redis ? [BridgeModule] : []),
        ChatModule,
        EventsModule,
        HealthModule,
        ContractModule,
        ...extensions,
      ],
    };
  }
}
