import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Gate } from './gate';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { setTimeout as delay } from 'node:timers/promises';
import { ServerIdentity } from '../../src/lifecycle/server-identity';
import { RpcError, RpcErrorCode } from '../../src/protocol/rpc.protocol';
import { RedisConnections } from '../../src/redis/redis-connections';
import { RpcRegistry } from '../../src/rpc/rpc-registry';

/*
 * Test methods for the backend bridge, registered the way a feature module registers its own:
 * echo, a failure with an RpcError, a throw, a retryable failure, a slow one and a gated one. Each counts its runs
 * per `key`, so a test can tell how often a request was executed (not just answered).
 */

export class EchoParams {
  @IsOptional()
  @IsString()
  @Length(0, 10_000)
  key?: string;

  @IsOptional()
  @IsInt()
  seq?: number;
}

export class SlowParams extends EchoParams {
  @IsInt()
  @Min(0)
  @Max(60_000)
  ms!: number;
}

/** Holds `test.gated` calls while closed. */
@Injectable()
export class BridgeGate extends Gate {}

@Injectable()
export class BridgeTestMethods implements OnModuleInit {
  /** Runs per `key` (params without a key count under ''). */
  readonly runs = new Map<string, number>();
  /** `<key>:<seq>` of every run of the room methods, in the order they ran. */
  readonly ran: string[] = [];

  constructor(
    private readonly registry: RpcRegistry,
    private readonly identity: ServerIdentity,
    private readonly gate: BridgeGate,
    private readonly moduleRef: ModuleRef,
  ) {}

  runsOf(key: string): number {
    return this.runs.get(key) ?? 0;
  }

  onModuleInit(): void {
    const answer = (params: EchoParams): object => {
      const key = params.key ?? '';
      this.runs.set(key, this.runsOf(key) + 1);
      return { echo: params, server_id: this.identity.id };
    };
    this.registry.register({
      name: 'test.echo',
      params: EchoParams,
      permission: 'backend',
      handler: (params: EchoParams) => Promise.resolve(answer(params)),
    });
    this.registry.register({
      name: 'test.fail',
      params: EchoParams,
      permission: 'backend',
      handler: (params: EchoParams) => {
        answer(params);
        const error = new RpcError(
          RpcErrorCode.UserNotConnected,
          'nobody of that name is connected',
          {
            details: { user_id: 'ghost' },
          },
        );
        return Promise.reject(error);
      },
    });
    this.registry.register({
      name: 'test.throw',
      params: EchoParams,
      permission: 'backend',
      handler: (params: EchoParams) => {
        answer(params);
        return Promise.reject(new Error('a secret detail of the failure'));
      },
    });
    this.registry.register({
      name: 'test.slow',
      params: SlowParams,
      permission: 'backend',
      handler: async (params: SlowParams) => {
        await delay(params.ms);
        return answer(params);
      },
    });
    this.registry.register({
      name: 'test.flaky',
      params: EchoParams,
      permission: 'backend',
      handler: (params: EchoParams) => {
        // Fails retryably on its first run per key (Redis away under a publish), then answers.
        if (this.runsOf(params.key ?? '') > 0) return Promise.resolve(answer(params));
        answer(params);
        const error = new RpcError(RpcErrorCode.InternalError, 'try again', { retryable: true });
        return Promise.reject(error);
      },
    });
    // Two methods with a room, `test:<key>`: the bridge and the HTTP API order their calls per room.
    const room = (params: EchoParams): string => `test:${params.key ?? ''}`;
    this.registry.register({
      name: 'test.room_gated',
      params: EchoParams,
      permission: 'backend',
      room,
      handler: async (params: EchoParams) => {
        await this.gate.pass();
        this.ran.push(`${params.key}:${params.seq}`);
        return answer(params);
      },
    });
    this.registry.register({
      name: 'test.room_echo',
      params: EchoParams,
      permission: 'backend',
      room,
      handler: (params: EchoParams) => {
        this.ran.push(`${params.key}:${params.seq}`);
        return Promise.resolve(answer(params));
      },
    });
    // A method that reads Redis itself, as an extension may: the raw client's errors reach the
    // registry as they are (a stall: "Command timed out", a dropped connection…).
    this.registry.register({
      name: 'test.redis_read',
      params: EchoParams,
      permission: 'backend',
      handler: async (params: EchoParams) => {
        const redis = this.moduleRef.get(RedisConnections, { strict: false });
        await redis.command.get(`test-read:${params.key ?? ''}`);
        return answer(params);
      },
    });
    this.registry.register({
      name: 'test.gated',
      params: EchoParams,
      permission: 'backend',
      handler: async (params: EchoParams) => {
        await this.gate.pass();
        return answer(params);
      },
    });
  }
}

@Module({ providers: [BridgeGate, BridgeTestMethods], exports: [BridgeGate, BridgeTestMethods] })
export class BridgeTestMethodsModule {}
