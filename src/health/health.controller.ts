import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { ChatHealthIndicator } from './chat.health';

/** `GET /` (the seed's health check) and `GET /health`: 200 while serving, 503 while draining. */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly chat: ChatHealthIndicator,
  ) {}

  @Get(['/', 'health'])
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.chat.check('chat')]);
  }
}
