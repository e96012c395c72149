import { Module } from '@nestjs/common';
import { HandshakeGuard } from './handshake-guard';
import { HttpGuard } from './http-guard';
import { SessionRegistry } from './session-registry';

@Module({
  providers: [SessionRegistry, HandshakeGuard, HttpGuard],
  exports: [SessionRegistry, HandshakeGuard, HttpGuard],
})
export class TransportModule {}
