import { Module } from '@nestjs/common';
import { HandshakeGuard } from './handshake-guard';
import { ConnectionRegistry } from './connection-registry';
import { HttpGuard } from './http-guard';

@Module({
  providers: [ConnectionRegistry, HandshakeGuard, HttpGuard],
  exports: [ConnectionRegistry, HandshakeGuard, HttpGuard],
})
export class TransportModule {}
