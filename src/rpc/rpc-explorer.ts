import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import type { RpcCaller } from './rpc-dispatcher';
import type { RpcMethodOptions } from './rpc-method';
import { RPC_METHOD_METADATA } from './rpc-method.decorator';
import { RpcRegistry } from './rpc-registry';

type Handler = (params: object, caller: RpcCaller) => unknown;

/**
 * Finds the `@RpcMethod` methods of every provider and controller of the application, in any
 * module, and registers them. Runs once at bootstrap (module init, after every provider exists
 * and before the server listens).
 */
@Injectable()
export class RpcExplorer implements OnModuleInit {
  private readonly logger = new Logger(RpcExplorer.name);

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly registry: RpcRegistry,
  ) {}

  onModuleInit(): void {
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) this.explore(wrapper);
  }

  private explore(wrapper: InstanceWrapper): void {
    const instance: unknown = wrapper.instance;
    if (typeof instance !== 'object' || instance === null) return;
    const prototype = Object.getPrototypeOf(instance) as object | null;
    for (const key of this.scanner.getAllMethodNames(prototype)) {
      const method = (instance as Record<string, unknown>)[key];
      if (typeof method !== 'function') continue;
      const options = this.reflector.get<RpcMethodOptions | undefined>(
        RPC_METHOD_METADATA,
        method as Handler,
      );
      if (!options) continue;
      if (!wrapper.isDependencyTreeStatic()) {
        this.logger.warn(`RPC method ${options.name} is on a scoped provider: not registered`);
        continue;
      }
      const handler = (method as Handler).bind(instance);
      this.registry.register({ ...options, handler });
    }
  }
}
