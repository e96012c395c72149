import { DynamicModule, Module, Type } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RoomHub } from './room-hub';
import { RoomsService } from './rooms.service';

/**
 * Membership and fan-out. The ports (RoomStore, RoomBroker) come from the backend module the
 * composition root picks (`AppModule.forRoot`): `InMemoryRoomsModule` or `RedisRoomsModule`.
 * Nothing in this folder knows which one runs. Global: the gateway, health and later features
 * use the rooms of the one backend.
 */
@Module({})
export class RoomsModule {
  static forRoot(backend: Type | DynamicModule): DynamicModule {
    return {
      global: true,
      module: RoomsModule,
      imports: [backend, AuthModule],
      providers: [RoomsService, RoomHub],
      exports: [RoomsService, RoomHub, backend],
    };
  }
}
