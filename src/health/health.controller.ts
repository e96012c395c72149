import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorFunction,
} from '@nestjs/terminus';
import { ChatHealthIndicator } from './chat.health';
import { DependencyHealthIndicator } from './dependency.health';

/**
 * - `GET /health/live`: the process serves WebSockets (503 only while draining). Routing checks
 *   (Fly, Docker) use it: an instance whose Redis is away still serves its local members.
 * - `GET /health/ready`, `GET /` (the seed's health check) and `GET /health`: the same plus the
 *   dependencies (Redis, when configured); 503 when any is down.
 */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly chat: ChatHealthIndicator,
    private readonly dependencies: DependencyHealthIndicator,
  ) {}

  @Get('health/live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([() => this.chat.check('chat')]);
  }

  @Get(['/', 'health', 'health/ready'])
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    const checks: HealthIndicatorFunction[] = [() => this.chat.check('chat')];
    return this.health.check([...checks, ...this.dependencies.checks()]);
  }
}
