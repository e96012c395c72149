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
import { ChatError } from '../protocol/chat-error';
import { ErrorCode } from '../protocol/error-code';
import { logUnexpected, toErrorFrame } from '../protocol/error-frame';
import { WsErrorFilter } from '../transport/ws-error.filter';
import { WsValidationPipe } from '../transport/ws-validation.pipe';
import { ID_PATTERN, ID_PATTERN_TEXT } from '../protocol/ids';
import type { Session } from '../transport/session';
import { SessionRegistry } from '../transport/session-registry';
import { RoomsService } from '../rooms/rooms.service';
import { ClientMessageType } from '../protocol/chat.protocol';
import { ChatMessageDto } from './dto/chat-message.dto';
import { HistoryDto } from './dto/history.dto';
import { positionOf } from './dto/stream-position.validator';
import { JoinDto } from './dto/join.dto';
import { PresenceDto } from './dto/presence.dto';
import { SwitchRoomDto } from './dto/switch-room.dto';

/**
 * The chat protocol's entry point: validates each message and hands it to RoomsService. Handlers
 * run in the session's queue, one frame after another; the session's own operations (auto-join,
 * leave) are queued there too.
 */
@WebSocketGateway()
@UsePipes(WsValidationPipe)
@UseFilters(WsErrorFilter)
export class ChatGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger(ChatGateway.name);

  constructor(
    private readonly registry: SessionRegistry,
    private readonly rooms: RoomsService,
  ) {}

  /** A session the server evicts (slow, abusive, never joined) leaves its room at once. */
  afterInit(): void {
    this.registry.onEviction((session) => this.leave(session));
  }

  /** For `?userId=ID`, joins the user's own room at once. Never throws: Nest neither awaits nor
   * catches this hook. */
  handleConnection(session: Session, request: IncomingMessage): void {
    this.logger.debug(`session ${session.id} opened from ${session.remoteAddress}`);
    const userId = new URLSearchParams(request.url?.split('?')[1] ?? '').get('userId');
    if (userId === null) return;
    // Under AUTH_MODE=jwt the auto-join needs a token from the upgrade; a first-frame session
    // joins with a `join` message once authenticated.
    if (session.awaitingAuth) return;
    if (session.principal && userId !== session.principal.userId) {
      const error = new ChatError(ErrorCode.UserMismatch, 'userId differs from the token’s user');
      session.sendError(toErrorFrame(error, this.logger));
      return;
    }
    if (!ID_PATTERN.test(userId)) {
      const error = new ChatError(ErrorCode.InvalidMessage, `userId must be ${ID_PATTERN_TEXT}`);
      session.sendError(toErrorFrame(error, this.logger));
      return;
    }
    session.enqueue(() =>
      this.rooms
        .join(session, userId)
        .catch((error: unknown) => session.sendError(toErrorFrame(error, this.logger))),
    );
  }

  /** A client's close leaves the room after every frame it sent before it. */
  handleDisconnect(session: Session): void {
    this.logger.debug(`session ${session.id} closed`);
    this.leave(session);
  }

  @SubscribeMessage(ClientMessageType.Join)
  join(@MessageBody() dto: JoinDto, @ConnectedSocket() session: Session): Promise<void> {
    return this.rooms.join(session, dto.userId, dto.roomId ?? undefined, positionOf(dto.since));
  }

  @SubscribeMessage(ClientMessageType.ChatMessage)
  chat(@MessageBody() dto: ChatMessageDto, @ConnectedSocket() session: Session): Promise<void> {
    return this.rooms.sendMessage(session, dto.userId, dto.content, dto.messageId ?? undefined);
  }

  @SubscribeMessage(ClientMessageType.SwitchRoom)
  switchRoom(
    @MessageBody() dto: SwitchRoomDto,
    @ConnectedSocket() session: Session,
  ): Promise<void> {
    return this.rooms.switchRoom(session, dto.userId, dto.roomId, positionOf(dto.since));
  }

  @SubscribeMessage(ClientMessageType.Presence)
  presence(@MessageBody() dto: PresenceDto, @ConnectedSocket() session: Session): Promise<void> {
    return this.rooms.presence(session, dto.roomId ?? undefined);
  }

  @SubscribeMessage(ClientMessageType.History)
  history(@MessageBody() dto: HistoryDto, @ConnectedSocket() session: Session): Promise<void> {
    return this.rooms.history(session, {
      roomId: dto.roomId ?? undefined,
      limit: dto.limit ?? undefined,
      before: dto.before ?? undefined,
    });
  }

  private leave(session: Session): void {
    session.enqueue(() =>
      this.rooms.disconnect(session).catch((error: unknown) => logUnexpected(error, this.logger)),
    );
  }
}
