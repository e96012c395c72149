import { Injectable, NestMiddleware } from '@nestjs/common';
import { json } from 'body-parser';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config';

/**
 * Parses a JSON request body of at most MAX_PAYLOAD_BYTES (larger: 413, malformed: 400) into
 * `request.body`. The app has no global body parser (a body nobody reads is never buffered), so
 * a route that takes a JSON body enables this middleware for itself, in its module:
 *
 * ```ts
 * export class EventsModule implements NestModule {
 *   configure(consumer: MiddlewareConsumer): void {
 *     consumer.apply(JsonBodyMiddleware).forRoutes({ path: 'api/rpc', method: RequestMethod.POST });
 *   }
 * }
 * ```
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly parse: ReturnType<typeof json>;

  constructor(config: AppConfig) {
    this.parse = json({ limit: config.MAX_PAYLOAD_BYTES, strict: true, type: 'application/json' });
  }

  use(request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void): void {
    this.parse(request, response, next);
  }
}
