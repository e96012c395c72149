import type { LoggerService } from '@nestjs/common';

export interface LogLine {
  level: string;
  message: string;
}

/** Records every line the app logs, at every level. */
export class RecordingLogger implements LoggerService {
  readonly lines: LogLine[] = [];
  log = (message: unknown) => this.record('log', message);
  error = (message: unknown) => this.record('error', message);
  warn = (message: unknown) => this.record('warn', message);
  debug = (message: unknown) => this.record('debug', message);
  verbose = (message: unknown) => this.record('verbose', message);
  fatal = (message: unknown) => this.record('fatal', message);

  /** Lines logged above debug (log, warn, error, fatal). */
  aboveDebug(): LogLine[] {
    return this.lines.filter((line) => line.level !== 'debug' && line.level !== 'verbose');
  }

  private record(level: string, message: unknown): void {
    this.lines.push({
      level,
      message: message instanceof Error ? (message.stack ?? '') : String(message),
    });
  }
}
