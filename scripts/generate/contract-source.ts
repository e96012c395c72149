import type { ModuleMetadata } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, NestFactory } from '@nestjs/core';
import {
  GATEWAY_METADATA,
  GATEWAY_OPTIONS,
  MESSAGE_MAPPING_METADATA,
  MESSAGE_METADATA,
  PARAM_ARGS_METADATA,
} from '@nestjs/websockets/constants';
import { WsParamtype } from '@nestjs/websockets/enums/ws-paramtype.enum';
import { AppModule } from '../../src/app.module';
import { configWith } from '../../src/config/load-config';
import type { RpcMethodDefinition } from '../../src/rpc/rpc-method';
import { RpcRegistry } from '../../src/rpc/rpc-registry';

/** A message type a gateway on `/` and `/ws` handles, and the DTO its body is validated with. */
export interface ClientMessageSource {
  type: string;
  dto: new () => object;
}

/** What the contract is generated from: the running application's own registries. */
export interface ContractSource {
  methods: readonly RpcMethodDefinition[];
  messages: readonly ClientMessageSource[];
}

/** Paths of the default gateways (`@WebSocketGateway()` or `/ws`): the ones the contract covers. */
const DEFAULT_PATHS: ReadonlySet<string | undefined> = new Set([undefined, '/', '/ws']);

/**
 * Builds the application (in memory, not listening) with `extensions` beside the core modules, as
 * main.ts and the tests compose it, and reads every registered RPC method and every message type
 * of its default gateways.
 */
export async function readContractSource(
  extensions: ModuleMetadata['imports'] = [],
): Promise<ContractSource> {
  const app = await NestFactory.createApplicationContext(
    AppModule.forRoot(configWith({}), extensions),
    { logger: false, abortOnError: false },
  );
  try {
    const methods = app.get(RpcRegistry).list();
    const discovery = app.get(DiscoveryService);
    const scanner = app.get(MetadataScanner);
    const messages = discovery
      .getProviders()
      .map((wrapper) => wrapper.metatype)
      .filter((type): type is new () => object => isDefaultGateway(type))
      .flatMap((gateway) => messagesOf(gateway, scanner));
    return { methods, messages };
  } finally {
    await app.close();
  }
}

function isDefaultGateway(type: unknown): boolean {
  if (typeof type !== 'function' || !Reflect.getMetadata(GATEWAY_METADATA, type)) return false;
  const options = Reflect.getMetadata(GATEWAY_OPTIONS, type) as { path?: string } | undefined;
  return DEFAULT_PATHS.has(options?.path);
}

function messagesOf(gateway: new () => object, scanner: MetadataScanner): ClientMessageSource[] {
  const prototype = gateway.prototype as Record<string, unknown>;
  return scanner.getAllMethodNames(prototype).flatMap((key) => {
    const handler = prototype[key] as object;
    if (!Reflect.getMetadata(MESSAGE_MAPPING_METADATA, handler)) return [];
    const type = Reflect.getMetadata(MESSAGE_METADATA, handler) as string;
    return [{ type, dto: bodyTypeOf(gateway, key) }];
  });
}

/** The class of the handler's `@MessageBody()` parameter. */
function bodyTypeOf(gateway: new () => object, key: string): new () => object {
  const args = (Reflect.getMetadata(PARAM_ARGS_METADATA, gateway, key) ?? {}) as Record<
    string,
    { index: number }
  >;
  const body = Object.entries(args).find(([name]) => name.startsWith(`${WsParamtype.PAYLOAD}:`));
  const prototype = gateway.prototype as object;
  const types = Reflect.getMetadata('design:paramtypes', prototype, key) as
    (new () => object)[] | undefined;
  const dto = body && types?.[body[1].index];
  if (!dto) throw new Error(`${gateway.name}.${key}: no @MessageBody() DTO to describe`);
  return dto;
}
