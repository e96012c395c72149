import { Module } from '@nestjs/common';
import { HandshakeGuard } from './handshake-guard';
import { ConnectionRegistry } from './connection-registry';

@Module({
  providers: [ConnectionRegistry, HandshakeGuard],
  exports: [ConnectionRegistry, HandshakeGuard],
})
export class TransportModule {}
