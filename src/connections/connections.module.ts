import { Module } from '@nestjs/common';
import { HandshakeGuard } from '../common/ws/handshake-guard';
import { ConnectionRegistry } from './connection-registry';

@Module({
  providers: [ConnectionRegistry, HandshakeGuard],
  exports: [ConnectionRegistry, HandshakeGuard],
})
export class ConnectionsModule {}
