import {
  BadRequestException,
  HttpException,
  Injectable,
  NestMiddleware,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { json } from 'body-parser';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config';

/**
 * Parses a JSON request body of at most MAX_PAYLOAD_BYTES into `request.body`, and answers what
 * it cannot take in words: a body whose Content-Type is not `application/json` 415, a larger one
 * 413, malformed JSON 400, and JSON that is not an object or an array (`5`, `"x"`, `null`,
 * `true`) 400 saying so. No answer quotes the body (JSON.parse's messages do: they are replaced). A route behind it therefore always gets an object or an array (or
 * nothing, for a request without a body). The app has no global body parser (a body nobody
 * reads is never buffered), so a route that takes a JSON body enables this middleware for
 * itself, in its module:
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
    // Not strict: any JSON value parses, so that one that is not an object or array is refused
    // below for what it is rather than as "not valid JSON".
    this.parse = json({ limit: config.MAX_PAYLOAD_BYTES, strict: false, type: JSON_TYPE });
  }

  use(request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void): void {
    if (hasBody(request) && mediaType(request) !== JSON_TYPE) {
      return next(new UnsupportedMediaTypeException(`Content-Type must be ${JSON_TYPE}`));
    }
    this.parse(request, response, (error?: unknown) => {
      if (error !== undefined) return next(bodyFault(error));
      const body = (request as IncomingMessage & { body?: unknown }).body;
      if (hasBody(request) && (typeof body !== 'object' || body === null)) {
        return next(
          new BadRequestException(
            `the JSON body must be an object or an array, not ${body === null ? 'null' : `a ${typeof body}`}`,
          ),
        );
      }
      next();
    });
  }
}

const JSON_TYPE = 'application/json';

/** Words for body-parser's faults (the `type` of its errors), none of them quoting the body. */
const BODY_FAULTS: Readonly<Record<string, string>> = {
  'entity.parse.failed': 'the body is not valid JSON',
  'entity.too.large': 'the body is over MAX_PAYLOAD_BYTES',
  'request.aborted': 'the request was aborted before its body was complete',
  'request.size.invalid': 'the body is not as long as its Content-Length says',
  'encoding.unsupported': 'the Content-Encoding is not supported',
  'charset.unsupported': 'the charset is not supported',
};

/** body-parser's error as an HttpException of the same status, in our words. */
export function bodyFault(error: unknown): unknown {
  const { status, type } = (error ?? {}) as { status?: unknown; type?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500) return error;
  const words = typeof type === 'string' ? BODY_FAULTS[type] : undefined;
  return new HttpException(words ?? 'the body could not be read', status);
}

/** The media type of the request's Content-Type, lower case, without parameters ('' if none). */
function mediaType(request: IncomingMessage): string {
  return (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

/** Whether the request carries a body (chunked, or a Content-Length above 0), as body-parser reads it. */
function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return (
    request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
  );
}
