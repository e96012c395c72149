import { Inject, UseFilters, UsePipes } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { RpcMessageType, RpcResponseFrame, rpcFrames } from '../protocol/rpc.protocol';
import type { Session } from '../transport/session';
import { RpcFrameDto } from './dto/rpc-frame.dto';
import { RpcDispatcher } from './rpc-dispatcher';
import { RpcErrorFilter } from './rpc-error.filter';
import { RpcFramePipe } from './rpc-frame.pipe';

/**
 * RPC over the socket, beside the chat protocol on `/` and `/ws`: `{type:"rpc", ...}` is answered
 * `response` or (RpcErrorFilter) `error`, with the call's correlation id. A connection's calls
 * run one after another, in its session's queue, and are rate limited with its other frames.
 */
@WebSocketGateway()
@UsePipes(RpcFramePipe)
@UseFilters(RpcErrorFilter)
export class RpcGateway {
  constructor(@Inject(RpcDispatcher) private readonly rpc: RpcDispatcher) {}

  @SubscribeMessage(RpcMessageType.Rpc)
  async call(
    @MessageBody() frame: RpcFrameDto,
    @ConnectedSocket() session: Session,
  ): Promise<RpcResponseFrame> {
    // A connection that calls methods uses the server without a room: no join deadline for it.
    session.engaged = true;
    const caller = {
      kind: 'socket',
      session,
      principal: session.principal,
      idempotencyKey: frame.idempotency_key ?? undefined,
    } as const;
    const result = await this.rpc.call(frame.method, frame.params, caller);
    return rpcFrames.response(frame.correlation_id, result);
  }
}
