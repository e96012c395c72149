import {
  Injectable,
  NestMiddleware,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config';

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * The HTTP API's door, before its body is read: with API_KEY unset the route answers 404 as an
 * unknown route does (the API is off, not hidden behind a key); without `Authorization: Bearer
 * <API_KEY>`, 401. The key is compared in constant time (as SHA-256 digests, so that its length
 * does not show either) and never logged.
 */
@Injectable()
export class ApiKeyMiddleware implements NestMiddleware {
  private readonly key: Buffer | undefined;

  constructor(config: AppConfig) {
    this.key = config.API_KEY === '' ? undefined : digest(config.API_KEY);
  }

  use(
    request: IncomingMessage & { originalUrl?: string },
    response: ServerResponse,
    next: (error?: unknown) => void,
  ): void {
    if (!this.key) {
      // Nest's own words for a route it does not have.
      return next(
        new NotFoundException(`Cannot ${request.method} ${request.originalUrl ?? request.url}`),
      );
    }
    const given = BEARER.exec(request.headers.authorization ?? '')?.[1];
    if (given === undefined || !timingSafeEqual(digest(given), this.key)) {
      response.setHeader('WWW-Authenticate', 'Bearer');
      return next(new UnauthorizedException('send Authorization: Bearer <API_KEY>'));
    }
    next();
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
