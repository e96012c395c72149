import type { DependencyHealth, DependencyStatus } from '../lifecycle/dependency-health';
import { isCluster } from './redis-client';
import { RedisConnections } from './redis-connections';
import { REDIS_STATE_MESSAGES, RedisConnectionState, failureState } from './redis-state';

/**
 * Up when both shared Redis connections are ready and a PING answers in time (on a cluster, a
 * PING to every master: a shard that fails over is down until its replica took over). Down says the
 * connection's state in our words (`connection`, `message`), never the client library's socket
 * error.
 */
export class RedisHealth implements DependencyHealth {
  readonly name = 'redis';

  constructor(private readonly redis: RedisConnections) {}

  async check(): Promise<DependencyStatus> {
    const state = this.redis.state;
    if (state !== 'connected') return down(state);
    try {
      const { command } = this.redis;
      const nodes = isCluster(command) ? command.nodes('master') : [command];
      await Promise.all(nodes.map((node) => node.ping()));
      return { up: true };
    } catch (error) {
      this.redis.failed(error);
      const failure = failureState(error);
      return down(failure.state, failure.code);
    }
  }
}

function down(state: RedisConnectionState, code?: string): DependencyStatus {
  const message = REDIS_STATE_MESSAGES[state];
  return {
    up: false,
    details: { connection: state, message: code ? `${message} (${code})` : message },
  };
}
