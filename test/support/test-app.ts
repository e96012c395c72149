import type { LoggerService } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.factory';
import type { AppConfig } from '../../src/config/app-config';
import { configWith } from '../../src/config/load-config';

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

/** Starts the real application on a free loopback port with the given settings (silent, unless
 * a `logger` is given to record what it logs). */
export async function startApp(
  overrides: Partial<AppConfig> = {},
  options: { logger?: LoggerService } = {},
): Promise<RunningApp> {
  const config = configWith({ HOST: '127.0.0.1', PORT: 0, ...overrides });
  const app = await createApp(config, { logger: options.logger ?? false });
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
