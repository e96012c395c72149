import { Injectable, Module, UseFilters, UsePipes } from '@nestjs/common';
import { Gate } from './gate';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { IsInt, IsOptional, IsString, Length, Min } from 'class-validator';
import { WsErrorFilter } from '../../src/transport/ws-error.filter';
import { WsValidationPipe } from '../../src/transport/ws-validation.pipe';

/*
 * A test-only extension, written the way another feature module would add message types: its own
 * gateways, DTOs and providers, composed into the app with `createApp(config, { imports })`, with
 * no change to the core modules.
 */

export class EchoDto {
  @IsString()
  @Length(1, 20_000)
  text!: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  seq?: number;
}

/** Holds `echo` handlers while closed. */
@Injectable()
export class EchoGate extends Gate {}

/** Adds `echo` beside the chat protocol on the default path (`/` and `/ws`). */
@WebSocketGateway()
@UsePipes(WsValidationPipe)
@UseFilters(WsErrorFilter)
export class EchoGateway {
  constructor(private readonly gate: EchoGate) {}

  @SubscribeMessage('echo')
  async echo(@MessageBody() dto: EchoDto): Promise<object> {
    await this.gate.pass();
    return dto.seq === undefined
      ? { type: 'echo', text: dto.text }
      : { type: 'echo', seq: dto.seq };
  }
}

/** A gateway on a path of its own: its types are known there and only there. */
@WebSocketGateway({ path: '/extension' })
@UsePipes(WsValidationPipe)
@UseFilters(WsErrorFilter)
export class ElsewhereGateway {
  @SubscribeMessage('shout')
  shout(@MessageBody() dto: EchoDto): object {
    return { type: 'shout', text: dto.text.toUpperCase() };
  }
}

/** Names `/ws`, one of the default paths: it joins the default gateways' server. */
@WebSocketGateway({ path: '/ws' })
@UsePipes(WsValidationPipe)
@UseFilters(WsErrorFilter)
export class WsPathGateway {
  @SubscribeMessage('whisper')
  whisper(@MessageBody() dto: EchoDto): object {
    return { type: 'whisper', text: dto.text.toLowerCase() };
  }
}

@Module({ providers: [EchoGate, WsPathGateway, EchoGateway, ElsewhereGateway] })
export class EchoExtensionModule {}
