import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { HandshakeGuard } from './handshake-guard';
import { HttpGuard } from './http-guard';
import { SessionAuthenticator } from './session-authenticator';
import { SessionRegistry } from './session-registry';

/** Sessions and their admission; authentication uses AuthModule's verifier and the per-user
 * count (UserConnections) of the rooms backend. */
@Module({
  imports: [AuthModule],
  providers: [SessionRegistry, HandshakeGuard, HttpGuard, SessionAuthenticator],
  exports: [SessionRegistry, HandshakeGuard, HttpGuard, SessionAuthenticator, AuthModule],
})
export class TransportModule {}
