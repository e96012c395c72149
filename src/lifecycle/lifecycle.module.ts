import { Global, Module } from '@nestjs/common';
import { ServerIdentity } from './server-identity';
import { ShutdownState } from './shutdown-state';

@Global()
@Module({ providers: [ShutdownState, ServerIdentity], exports: [ShutdownState, ServerIdentity] })
export class LifecycleModule {}
