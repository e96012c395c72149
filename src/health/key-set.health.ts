import { Injectable } from '@nestjs/common';
import { HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';
import { TokenVerifier } from '../auth/token-verifier';

/**
 * The JWKS the tokens are verified with (`jwks`), when JWT_JWKS_URL is the key source: `keys` is
 * `fresh`, `stale` (the issuer could not be reached lately; the last keys are still used) or
 * `none`. Down only with `none`: no token can be verified then.
 */
@Injectable()
export class KeySetHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly verifier: TokenVerifier,
  ) {}

  checks(): HealthIndicatorFunction[] {
    if (this.verifier.keySetStatus() === undefined) return [];
    return [
      async () => {
        const indicator = this.indicators.check('jwks');
        const status = await this.verifier.checkKeySet();
        if (!status) return indicator.up();
        const details = {
          keys: status.state,
          ...(status.fetchedAt !== undefined && {
            fetchedAt: new Date(status.fetchedAt).toISOString(),
          }),
          ...(status.lastError !== undefined && { lastError: status.lastError }),
        };
        return status.state === 'none' ? indicator.down(details) : indicator.up(details);
      },
    ];
  }
}
