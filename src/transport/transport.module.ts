import { Module } from '@nestjs/common';
import { HandshakeGuard } from './handshake-guard';
import { SessionRegistry } from './session-registry';

@Module({
  providers: [SessionRegistry, HandshakeGuard],
  exports: [SessionRegistry, HandshakeGuard],
})
export class TransportModule {}
