import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import { Gate } from './gate';
import { Type } from 'class-transformer';
import { IsArray, IsInt, IsOptional, IsString, Length, Min, ValidateNested } from 'class-validator';
import { IsChatId } from '../../src/chat/dto/id.validators';
import { RpcError, RpcErrorCode } from '../../src/protocol/rpc.protocol';
import type { RpcCaller } from '../../src/rpc/rpc-dispatcher';
import { RpcMethod } from '../../src/rpc/rpc-method.decorator';
import { RpcRegistry } from '../../src/rpc/rpc-registry';
import { EventsModule } from '../../src/events/events.module';
import { EventsService } from '../../src/events/events.service';

/*
 * A test-only extension, written the way an enterprise team's module would add RPC methods: its
 * own providers and DTOs, methods registered with `@RpcMethod` and with `RpcRegistry.register()`,
 * composed into the app with `startApp(config, { imports })`, with no change to the core.
 */

export class Point {
  @IsInt({ message: 'x must be an integer' })
  x!: number;

  @IsInt({ message: 'y must be an integer' })
  y!: number;
}

export class Tag {
  @Length(1, 20, { message: 'name must be 1 to 20 characters' })
  @IsString({ message: 'name must be a string' })
  name!: string;
}

/** Params with a nested object and an array of objects, for the dotted paths of their errors. */
export class EchoParams {
  @Length(1, 100, { message: 'text must be 1 to 100 characters' })
  @IsString({ message: 'text must be a string' })
  text!: string;

  @IsOptional()
  @Min(0, { message: 'seq must not be negative' })
  @IsInt({ message: 'seq must be an integer' })
  seq?: number;

  @IsOptional()
  @ValidateNested()
  @Type(() => Point)
  point?: Point;

  @IsOptional()
  @ValidateNested({ each: true })
  @IsArray({ message: 'tags must be an array' })
  @Type(() => Tag)
  tags?: Tag[];
}

export class RoomParams {
  @IsChatId()
  room!: string;
}

export class NoParams {}

export class SumParams {
  @IsInt()
  a!: number;

  @IsInt()
  b!: number;
}

/** Holds `test.wait` calls while closed. */
@Injectable()
export class RpcGate extends Gate {}

/** What `test.echo` answers: the params as the handler got them, and who called. */
function describeCaller(caller: RpcCaller): object {
  return caller.kind === 'backend'
    ? { kind: 'backend', via: caller.via }
    : { kind: 'socket', userId: caller.principal?.userId ?? null };
}

@Injectable()
export class DecoratedMethods {
  constructor(private readonly gate: RpcGate) {}

  @RpcMethod({ name: 'test.echo', params: EchoParams, permission: 'query' })
  echo(params: EchoParams, caller: RpcCaller): object {
    return {
      dto: params instanceof EchoParams,
      point: params.point instanceof Point || params.point === undefined,
      params,
      caller: describeCaller(caller),
    };
  }

  @RpcMethod({ name: 'test.nothing', params: NoParams, permission: 'query' })
  nothing(params: NoParams): object {
    return { params };
  }

  @RpcMethod({
    name: 'test.publish',
    params: RoomParams,
    permission: 'publish',
    room: (params) => params.room,
  })
  publish(params: RoomParams): object {
    return { published: params.room };
  }

  @RpcMethod({ name: 'test.backend_only', params: NoParams, permission: 'backend' })
  backendOnly(_params: NoParams, caller: RpcCaller): object {
    return { caller: describeCaller(caller) };
  }

  /** Fails as a bug would; the message names what a log must never show of the params. */
  @RpcMethod({ name: 'test.throws', params: EchoParams, permission: 'query' })
  throws(): never {
    throw new Error('the handler broke');
  }

  @RpcMethod({ name: 'test.refuses', params: NoParams, permission: 'query' })
  refuses(): never {
    throw new RpcError(RpcErrorCode.UserNotConnected, 'nobody is connected as that user');
  }

  @RpcMethod({ name: 'test.wait', params: EchoParams, permission: 'query' })
  async wait(params: EchoParams): Promise<object> {
    await this.gate.pass();
    return { waited: params.text };
  }
}

/** Registers a method from code, as a module that builds its methods at start would. */
@Injectable()
export class ProgrammaticMethods implements OnModuleInit {
  constructor(private readonly registry: RpcRegistry) {}

  onModuleInit(): void {
    this.registry.register({
      name: 'test.sum',
      params: SumParams,
      permission: 'query',
      description: 'Adds two integers.',
      handler: (params: SumParams) => ({ sum: params.a + params.b }),
    });
  }
}

/** An enterprise team's own event: published through the core's EventsService, into its rooms. */
@Injectable()
export class TeamEvents {
  constructor(private readonly events: EventsService) {}

  @RpcMethod({
    name: 'team.announce',
    params: RoomParams,
    permission: 'publish',
    room: (params) => `team:${params.room}`,
  })
  announce(params: RoomParams, caller: RpcCaller): Promise<object> {
    const room = `team:${params.room}`;
    // The caller makes the event idempotent when its call carries a key.
    return this.events.publish('team.announce', room, { room: params.room }, caller);
  }
}

@Module({
  imports: [EventsModule],
  providers: [RpcGate, DecoratedMethods, ProgrammaticMethods, TeamEvents],
})
export class RpcExtensionModule {}
