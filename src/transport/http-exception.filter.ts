import { ArgumentsHost, Catch, HttpException, Logger, NotFoundException } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { IncomingMessage, STATUS_CODES } from 'node:http';

/**
 * HTTP errors the client caused (4xx: an unknown route, a malformed or oversized body, a request
 * aborted half-way) are answered as Nest would and logged at debug only, in one line: whoever
 * can send requests must not be able to fill the log. Nest's own filter logs the `http-errors`
 * of body parsing with a stack trace at ERROR. Server faults (5xx) keep Nest's handling.
 *
 * Neither the answer nor the log line quotes what the client sent: a 404 names the path without
 * its query (`?token=` stays out), and an `http-errors` error is answered by its status's name
 * (JsonBodyMiddleware words body faults itself).
 */
@Catch()
export class HttpExceptionFilter extends BaseExceptionFilter {
  private readonly log = new Logger('HTTP');

  override catch(exception: unknown, host: ArgumentsHost): void {
    const status = clientErrorStatus(exception);
    if (status === undefined) return super.catch(exception, host);
    const answer = safeAnswer(exception, status, host.switchToHttp().getRequest<IncomingMessage>());
    this.log.debug(`${status}: ${answer.message}`);
    super.catch(answer, host);
  }
}

/** The status of an error the client caused: Nest's HttpException or an `http-errors` error. */
function clientErrorStatus(exception: unknown): number | undefined {
  const status =
    exception instanceof HttpException
      ? exception.getStatus()
      : (exception as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

function safeAnswer(exception: unknown, status: number, request: IncomingMessage): HttpException {
  // Nest's router, and routes that answer as it does, say `Cannot GET /path?query`.
  if (exception instanceof NotFoundException) {
    return new NotFoundException(`Cannot ${request.method ?? 'GET'} ${pathOf(request)}`);
  }
  if (exception instanceof HttpException) return exception;
  // An `http-errors` error (body parsing): its message may quote the body.
  return new HttpException(STATUS_CODES[status] ?? 'Client error', status);
}

function pathOf(request: IncomingMessage & { originalUrl?: string }): string {
  const url = request.originalUrl ?? request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
