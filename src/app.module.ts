import { DynamicModule, Module } from '@nestjs/common';
import { ChatModule } from './chat/chat.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/app-config.module';
import { HealthModule } from './health/health.module';
import { RedisModule } from './redis/redis.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        LifecycleModule,
        RedisModule,
        ChatModule,
        HealthModule,
      ],
    };
  }
}
