import { Logger, UseFilters, UsePipes } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { ChatError } from '../protocol/chat-error';
import { CloseCode } from '../protocol/close-codes';
import { ErrorCode } from '../protocol/error-code';
import { logUnexpected, toErrorFrame } from '../protocol/error-frame';
import { PROTOCOL_ERROR_EVENT, ProtocolErrorData } from '../transport/message-parser';
import { WsErrorFilter } from '../transport/ws-error.filter';
import { WsValidationPipe } from '../transport/ws-validation.pipe';
import { ID_PATTERN, ID_PATTERN_TEXT } from '../protocol/ids';
import { Connection } from '../transport/connection';
import { ConnectionRegistry } from '../transport/connection-registry';
import { RoomsService } from '../rooms/rooms.service';
import { ClientMessageType } from '../protocol/chat.protocol';
import { ChatMessageDto } from './dto/chat-message.dto';
import { JoinDto } from './dto/join.dto';
import { PresenceDto } from './dto/presence.dto';
import { SwitchRoomDto } from './dto/switch-room.dto';

/** The chat protocol's entry point: validates each message and hands it to RoomsService. */
@WebSocketGateway()
@UsePipes(WsValidationPipe)
@UseFilters(WsErrorFilter)
export class ChatGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger(ChatGateway.name);

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly rooms: RoomsService,
  ) {}

  /** A connection the server evicts (slow, abusive, never joined) leaves its room at once. */
  afterInit(): void {
    this.registry.onEviction((connection) => this.leave(connection));
  }

  /** Registers the socket and, for `?userId=ID`, joins the user's own room at once. Never throws:
   * Nest neither awaits nor catches this hook. */
  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    try {
      const connection = this.registry.attach(socket, request);
      this.logger.debug(`connection ${connection.id} opened from ${connection.remoteAddress}`);
      const userId = new URLSearchParams(request.url?.split('?')[1] ?? '').get('userId');
      if (userId === null) return;
      if (!ID_PATTERN.test(userId)) {
        const error = new ChatError(ErrorCode.InvalidMessage, `userId must be ${ID_PATTERN_TEXT}`);
        connection.sendError(toErrorFrame(error, this.logger));
        return;
      }
      this.rooms
        .join(connection, userId)
        .catch((error: unknown) => connection.sendError(toErrorFrame(error, this.logger)));
    } catch (error) {
      logUnexpected(error, this.logger);
      socket.close(CloseCode.InternalError, 'internal error');
    }
  }

  handleDisconnect(socket: WebSocket): void {
    const connection = this.registry.detach(socket);
    if (!connection) return;
    this.logger.debug(`connection ${connection.id} closed`);
    this.leave(connection);
  }

  @SubscribeMessage(ClientMessageType.Join)
  join(@MessageBody() dto: JoinDto, @ConnectedSocket() socket: WebSocket): Promise<void> {
    return this.rooms.join(this.connectionOf(socket), dto.userId, dto.roomId ?? undefined);
  }

  @SubscribeMessage(ClientMessageType.ChatMessage)
  chat(@MessageBody() dto: ChatMessageDto, @ConnectedSocket() socket: WebSocket): Promise<void> {
    return this.rooms.sendMessage(this.connectionOf(socket), dto.userId, dto.content);
  }

  @SubscribeMessage(ClientMessageType.SwitchRoom)
  switchRoom(
    @MessageBody() dto: SwitchRoomDto,
    @ConnectedSocket() socket: WebSocket,
  ): Promise<void> {
    return this.rooms.switchRoom(this.connectionOf(socket), dto.userId, dto.roomId);
  }

  @SubscribeMessage(ClientMessageType.Presence)
  presence(@MessageBody() dto: PresenceDto, @ConnectedSocket() socket: WebSocket): Promise<void> {
    return this.rooms.presence(this.connectionOf(socket), dto.roomId ?? undefined);
  }

  /** Frames the parser could not dispatch (bad JSON, unknown type, binary) end here. */
  @SubscribeMessage(PROTOCOL_ERROR_EVENT)
  protocolError(@MessageBody() error: ProtocolErrorData): never {
    throw new ChatError(error.code, error.message);
  }

  private leave(connection: Connection): void {
    this.rooms.disconnect(connection).catch((error: unknown) => logUnexpected(error, this.logger));
  }

  private connectionOf(socket: WebSocket): Connection {
    const connection = this.registry.get(socket);
    if (!connection) throw new Error('message from a socket that is not registered');
    return connection;
  }
}
