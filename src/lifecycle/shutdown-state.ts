import { Injectable } from '@nestjs/common';

/** Whether the process is draining: health answers 503 and new WebSocket upgrades are refused. */
@Injectable()
export class ShutdownState {
  private drainingSince: Date | undefined;

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** Idempotent: a second signal does not restart the drain. */
  beginDrain(): void {
    this.drainingSince ??= new Date();
  }
}
