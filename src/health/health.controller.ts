import { Controller, Get, HttpException, ServiceUnavailableException } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorFunction,
} from '@nestjs/terminus';
import { BridgeHealthIndicator } from './bridge.health';
import { ChatHealthIndicator } from './chat.health';
import { DependencyHealthIndicator } from './dependency.health';
import { KeySetHealthIndicator } from './key-set.health';
import { ServerFigures, ServerFiguresBody } from './server-figures';

/** Terminus' answer with seed 003's figures beside `status`, so the seed's readers find them. */
export type HealthAnswer = Pick<HealthCheckResult, 'status'> &
  ServerFiguresBody &
  Omit<HealthCheckResult, 'status'>;

/**
 * - `GET /health/live`: the process serves WebSockets (503 only while draining). Routing checks
 *   (Fly, Docker) use it: an instance whose Redis is away still serves its local members.
 * - `GET /health/ready`, `GET /` (the seed's health check) and `GET /health`: the same plus the
 *   dependencies (Redis, when configured), the backend bridge and the JWKS (when it is the key
 *   source); 503 when any is down.
 * Every answer also carries seed 003's figures of this instance at its top level.
 */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly chat: ChatHealthIndicator,
    private readonly dependencies: DependencyHealthIndicator,
    private readonly bridge: BridgeHealthIndicator,
    private readonly keySet: KeySetHealthIndicator,
    private readonly figures: ServerFigures,
  ) {}

  @Get('health/live')
  @HealthCheck()
  live(): Promise<HealthAnswer> {
    return this.answer([() => this.chat.check('chat')]);
  }

  @Get(['/', 'health', 'health/ready'])
  @HealthCheck()
  ready(): Promise<HealthAnswer> {
    const checks: HealthIndicatorFunction[] = [() => this.chat.check('chat')];
    return this.answer([
      ...checks,
      ...this.dependencies.checks(),
      ...this.bridge.checks(),
      ...this.keySet.checks(),
    ]);
  }

  /** Runs the checks; a failing one is Terminus' 503, whose body gets the figures too. */
  private async answer(checks: HealthIndicatorFunction[]): Promise<HealthAnswer> {
    try {
      return this.withFigures(await this.health.check(checks));
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      const body = error.getResponse() as HealthCheckResult;
      throw new HttpException(this.withFigures(body), error.getStatus());
    }
  }

  private withFigures(result: HealthCheckResult): HealthAnswer {
    const { status, ...rest } = result;
    return { status, ...this.figures.now(), ...rest };
  }
}
