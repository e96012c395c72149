import { DynamicModule, Module, ModuleMetadata } from '@nestjs/common';
import { ChatModule } from './chat/chat.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/app-config.module';
import { HealthModule } from './health/health.module';
import { RedisModule } from './redis/redis.module';

@Module({})
export class AppModule {
  /** `extensions`: feature modules beside the core ones (their gateways add message types). */
  static forRoot(config: AppConfig, extensions: ModuleMetadata['imports'] = []): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        LifecycleModule,
        RedisModule,
        ChatModule,
        HealthModule,
        ...extensions,
      ],
    };
  }
}
