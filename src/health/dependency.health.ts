import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';
import { DEPENDENCY_HEALTH, DependencyHealth } from '../lifecycle/dependency-health';

/** Terminus indicators for the dependencies the backend declared (none in memory, `redis`). */
@Injectable()
export class DependencyHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(DEPENDENCY_HEALTH) private readonly dependencies: DependencyHealth[],
  ) {}

  checks(): HealthIndicatorFunction[] {
    return this.dependencies.map((dependency) => async () => {
      const indicator = this.indicators.check(dependency.name);
      const { up, details } = await dependency.check();
      return up ? indicator.up(details) : indicator.down(details);
    });
  }
}
