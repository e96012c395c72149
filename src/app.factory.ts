import {
  ConsoleLogger,
  LogLevel,
  LoggerService,
  ModuleMetadata,
  NestApplicationOptions,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { ShutdownState } from './lifecycle/shutdown-state';
import { ChatWsAdapter } from './transport/chat-ws.adapter';
import { HandshakeGuard } from './transport/handshake-guard';
import { HttpExceptionFilter } from './transport/http-exception.filter';
import { HttpGuard } from './transport/http-guard';
import { SessionAuthenticator } from './transport/session-authenticator';
import { SessionRegistry } from './transport/session-registry';
import { AppConfig, LOG_LEVELS } from './config/app-config';

export interface CreateAppOptions {
  /** Defaults to the console logger configured by LOG_LEVEL and LOG_FORMAT; `false` silences. */
  logger?: LoggerService | false;
  /**
   * Modules composed beside the core ones. A module with its own `@WebSocketGateway()` adds its
   * `@SubscribeMessage` types (and DTOs) to the protocol on that gateway's path.
   */
  imports?: ModuleMetadata['imports'];
}

/** Builds the application (not yet listening), as main.ts runs it. */
export async function createApp(
  config: AppConfig,
  options: CreateAppOptions = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config, options.imports),
    appOptions(config, options),
  );
  return configureApp(app, config);
}

/** The application options of createApp; the tests build their app from a testing module with them. */
export function appOptions(
  config: AppConfig,
  options: CreateAppOptions = {},
): NestApplicationOptions {
  return {
    logger: options.logger ?? createLogger(config),
    // Keep-alive HTTP connections must not hold up a shutdown.
    forceCloseConnections: true,
    abortOnError: false,
    // No global body parser: a route that takes a body enables JsonBodyMiddleware for itself.
    bodyParser: false,
  };
}

/**
 * What an application needs besides its modules before it listens: the HTTP guard and filter, and
 * the WebSocket adapter with its handshake guard and session registry. Shared by createApp and the tests' startApp, so that the
 * app the tests run is set up like the one main.ts runs.
 */
export function configureApp(
  app: NestExpressApplication,
  config: AppConfig,
): NestExpressApplication {
  app.disable('x-powered-by');
  guardHttp(app);
  app.useWebSocketAdapter(
    new ChatWsAdapter(app, {
      config,
      shutdown: app.get(ShutdownState),
      guard: app.get(HandshakeGuard),
      registry: app.get(SessionRegistry),
      auth: app.get(SessionAuthenticator),
    }),
  );
  return app;
}

/**
 * The HTTP side's defences (see HttpGuard): in front of the request listeners before the app
 * listens, and client errors (4xx) kept out of the log above debug. The app must be created
 * with `bodyParser: false` and import TransportModule.
 */
export function guardHttp(app: NestExpressApplication): void {
  app.get(HttpGuard).attach(app.getHttpServer());
  app.useGlobalFilters(new HttpExceptionFilter(app.getHttpAdapter()));
}

export function createLogger(config: AppConfig): LoggerService {
  const levels: LogLevel[] = [
    'fatal',
    ...LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(config.LOG_LEVEL) + 1),
  ];
  return new ConsoleLogger({ json: config.LOG_FORMAT === 'json', logLevels: levels });
}
