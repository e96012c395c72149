import { Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';
import { RpcBridge } from '../bridge/rpc-bridge';
import { REDIS_STATE_MESSAGES, failureState } from '../redis/redis-state';

/**
 * The backend bridge's state (`bridge`: stream, group, pending entries, dead letters), when it
 * runs (REDIS_URL set). Down only when Redis cannot tell; the `redis` indicator says why.
 */
@Injectable()
export class BridgeHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Optional() private readonly bridge?: RpcBridge,
  ) {}

  checks(): HealthIndicatorFunction[] {
    const bridge = this.bridge;
    if (!bridge) return [];
    return [
      async () => {
        const indicator = this.indicators.check('bridge');
        try {
          return indicator.up({ ...(await bridge.status()) });
        } catch (error) {
          // In our words, like the `redis` indicator: never the client library's socket message.
          const { state, code } = failureState(error);
          const why = code
            ? `${REDIS_STATE_MESSAGES[state]} (${code})`
            : REDIS_STATE_MESSAGES[state];
          return indicator.down({
            connection: state,
            message: `cannot read the bridge's state: ${why}`,
          });
        }
      },
    ];
  }
}
