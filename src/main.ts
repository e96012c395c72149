import { INestApplication, Logger } from '@nestjs/common';
import { getHeapStatistics } from 'node:v8';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.factory';
import { openAccessWarning } from './auth/open-access-warning';
import { AppConfig, redisConfigured } from './config/app-config';
import { ConfigError, loadConfig } from './config/load-config';
import { withEnvFile } from './config/env-file';
import { accessSummary, historySummary } from './config/startup-summary';
import { StartRefusedError } from './lifecycle/start-refused.error';

/** `.env` of the working directory, when there is one; the environment wins over it. */
const ENV_FILE = '.env';

async function bootstrap(): Promise<void> {
  const { env, fromFile } = withEnvFile(process.env, ENV_FILE);
  const config = loadConfigOrExit(env);
  const app = await createApp(config);
  const logger = new Logger('Bootstrap');
  // Names only: values may be secrets.
  if (fromFile.length > 0) logger.log(`Settings from ${ENV_FILE}: ${fromFile.join(', ')}`);
  await app.listen(config.PORT, config.HOST);
  const { port } = app.getHttpServer().address() as AddressInfo;
  logger.log(
    `PixIDE chat server listening on http://${config.HOST}:${port} (WebSocket at / and /ws), ` +
      `${roomsMode(config)}, ${accessSummary(config)}`,
  );
  logger.log(historySummary(config, getHeapStatistics().heap_size_limit));
  const warning = openAccessWarning(config);
  if (warning) logger.warn(warning);
  stopOnSignals(app, config, logger);
  process.on('unhandledRejection', (reason) =>
    logger.error(`Unhandled rejection: ${String(reason)}`),
  );
}

/** Which mode the rooms run in, for the start-up log (never the Redis URL: it holds a password). */
function roomsMode(config: AppConfig): string {
  return redisConfigured(config)
    ? 'rooms in Redis (shared with the other instances on it)'
    : 'rooms in memory (this instance only; set REDIS_URL or REDIS_CLUSTER_NODES to share them)';
}

function loadConfigOrExit(env: NodeJS.ProcessEnv): AppConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

/**
 * SIGTERM (Fly's kill_signal here) and SIGINT: drain and exit 0. Nest's enableShutdownHooks would
 * re-raise the signal after closing, which ends the process with 143/130 instead of 0.
 */
function stopOnSignals(app: INestApplication, config: AppConfig, logger: Logger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: draining`);
    setTimeout(() => {
      logger.error(`Shutdown took longer than ${config.SHUTDOWN_TIMEOUT_MS} ms; exiting`);
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    app.close().then(
      () => {
        logger.log('Stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error(`Shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

bootstrap().catch((error: unknown) => {
  console.error(error instanceof StartRefusedError ? error.message : error);
  process.exit(1);
});
