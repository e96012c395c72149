import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

/**
 * This process in the cluster: its id names it in Redis (membership entries, the bridge's
 * consumer) and in the health answer (`server_id`), so an operator can match the two.
 */
@Injectable()
export class ServerIdentity {
  readonly id: string = randomUUID();
}
