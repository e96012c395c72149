import { DynamicModule, Module } from '@nestjs/common';
import { ChatModule } from './chat/chat.module';
import { LifecycleModule } from './common/lifecycle/lifecycle.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { RedisModule } from './redis/redis.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LifecycleModule,
        RedisModule,
        ChatModule,
        HealthModule,
      ],
    };
  }
}
