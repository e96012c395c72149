import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RoomPolicy } from './room-policy';
import { TokenVerifier } from './token-verifier';

/**
 * Identity: token verification and room permissions. Imports nothing but the global AppConfig;
 * the transport verifies the token at the upgrade or first frame and keeps the Principal on its
 * session, and the rooms service asks RoomPolicy before a join, switch or presence.
 */
@Module({
  providers: [
    {
      provide: TokenVerifier,
      useFactory: (config: AppConfig) => new TokenVerifier(config),
      inject: [AppConfig],
    },
    {
      provide: RoomPolicy,
      useFactory: (config: AppConfig) => new RoomPolicy(config),
      inject: [AppConfig],
    },
  ],
  exports: [TokenVerifier, RoomPolicy],
})
export class AuthModule {}
