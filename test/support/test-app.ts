import type { DynamicModule } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { CreateAppOptions, appOptions, configureApp } from '../../src/app.factory';
import { AppModule } from '../../src/app.module';
import type { AppConfig } from '../../src/config/app-config';
import { configWith } from '../../src/config/load-config';
import { clusterStreamDefaults } from './cluster-client';

export interface RunningApp {
  app: NestExpressApplication;
  port: number;
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
  /** http://127.0.0.1:PORT */
  httpUrl: string;
  close(): Promise<void>;
}

/**
 * Limits lifted high enough for suites that test the protocol rather than the limits (they send
 * hundreds of frames, many of them invalid, in one burst). The hardening specs test the limits.
 */
export const PROTOCOL_TEST_LIMITS: Partial<AppConfig> = {
  RATE_LIMIT_PER_SECOND: 1_000_000,
  RATE_LIMIT_BURST: 1_000_000,
  ABUSE_ERRORS_MAX: 1_000_000,
};

/**
 * Changes the app's providers before it is built, e.g. `builder.overrideProvider(RoomStore)`;
 * `root` is the app's module tree, where `test/support/faults.ts` finds a provider to wrap.
 */
export type AppOverride = (
  builder: TestingModuleBuilder,
  root: DynamicModule,
) => TestingModuleBuilder;

export interface StartAppOptions {
  override?: AppOverride;
  /** Extension modules composed beside the core ones (see CreateAppOptions). */
  imports?: CreateAppOptions['imports'];
  /** A logger to record the app's log (silent by default). */
  logger?: CreateAppOptions['logger'];
}

/**
 * Starts the real application on a free loopback port with the given settings: AppModule in a
 * Nest testing module (so that a test can override a provider instead of patching a live
 * instance), set up by the same `configureApp` as main.ts's app.
 */
export async function startApp(
  overrides: Partial<AppConfig> = {},
  options: StartAppOptions = {},
): Promise<RunningApp> {
  const config = configWith({
    HOST: '127.0.0.1',
    PORT: 0,
    ...clusterStreamDefaults(overrides),
    ...overrides,
  });
  const root = AppModule.forRoot(config, options.imports);
  const builder = Test.createTestingModule({ imports: [root] });
  const moduleRef = await (options.override?.(builder, root) ?? builder).compile();
  const app = configureApp(
    moduleRef.createNestApplication<NestExpressApplication>(
      appOptions(config, { logger: options.logger ?? false }),
    ),
    config,
  );
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    port,
    wsUrl: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    close: () => app.close(),
  };
}
