import { ArgumentsHost, Catch, Injectable, Logger, WsExceptionFilter } from '@nestjs/common';
import { toErrorFrame } from '../protocol/error-frame';
import type { Session } from './session';

/** Answers any failure of a message handler with `{type:"error", code, message}`; the session
 * stays open unless it keeps failing (see Session.sendError). Needs nothing injected, so any
 * module's gateway can use it. */
@Catch()
@Injectable()
export class WsErrorFilter implements WsExceptionFilter {
  private readonly logger = new Logger(WsErrorFilter.name);

  catch(error: unknown, host: ArgumentsHost): void {
    host.switchToWs().getClient<Session>().sendError(toErrorFrame(error, this.logger));
  }
}
