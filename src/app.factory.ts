import { ConsoleLogger, LogLevel, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { CLIENT_MESSAGE_TYPES } from './protocol/chat.protocol';
import { ShutdownState } from './lifecycle/shutdown-state';
import { ChatWsAdapter } from './transport/chat-ws.adapter';
import { HandshakeGuard } from './transport/handshake-guard';
import { HttpExceptionFilter } from './transport/http-exception.filter';
import { HttpGuard } from './transport/http-guard';
import { createMessageParser } from './transport/message-parser';
import { AppConfig, LOG_LEVELS } from './config/app-config';

export interface CreateAppOptions {
  /** Defaults to the console logger configured by LOG_LEVEL and LOG_FORMAT; `false` silences. */
  logger?: LoggerService | false;
}

/** Builds the application (not yet listening). Shared by main.ts and the end-to-end tests. */
export async function createApp(
  config: AppConfig,
  options: CreateAppOptions = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    logger: options.logger ?? createLogger(config),
    // Keep-alive HTTP connections must not hold up a shutdown.
    forceCloseConnections: true,
    abortOnError: false,
    // No global body parser: a route that takes a body enables JsonBodyMiddleware for itself.
    bodyParser: false,
  });
  app.disable('x-powered-by');
  guardHttp(app);
  app.useWebSocketAdapter(
    new ChatWsAdapter(app, {
      config,
      shutdown: app.get(ShutdownState),
      guard: app.get(HandshakeGuard),
      messageParser: createMessageParser(CLIENT_MESSAGE_TYPES),
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
