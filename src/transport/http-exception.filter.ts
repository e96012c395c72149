import { ArgumentsHost, Catch, HttpException, Logger } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';

/**
 * HTTP errors the client caused (4xx: an unknown route, a malformed or oversized body, a request
 * aborted half-way) are answered as Nest would and logged at debug only, in one line: whoever
 * can send requests must not be able to fill the log. Nest's own filter logs the `http-errors`
 * of body parsing with a stack trace at ERROR. Server faults (5xx) keep Nest's handling.
 */
@Catch()
export class HttpExceptionFilter extends BaseExceptionFilter {
  private readonly log = new Logger('HTTP');

  override catch(exception: unknown, host: ArgumentsHost): void {
    const status = clientErrorStatus(exception);
    if (status === undefined) return super.catch(exception, host);
    const message = exception instanceof Error ? exception.message : String(exception);
    this.log.debug(`${status}: ${message}`);
    const answer =
      exception instanceof HttpException ? exception : new HttpException(message, status);
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
