import { IsIn, IsOptional, IsString, Length, MaxLength } from 'class-validator';
import { IsHistoryBefore, IsHistoryLimit } from '../../chat/dto/history-query.validators';
import { IsChatId } from '../../chat/dto/id.validators';
import { IsStreamPosition } from '../../chat/dto/stream-position.validator';
import type { StreamPositionFields } from '../../protocol/chat.protocol';
import { NOTIFICATION_LEVELS, type NotificationLevel } from '../../protocol/event.protocol';

const LEVELS: readonly NotificationLevel[] = NOTIFICATION_LEVELS;

/** `notification.broadcast` */
export class BroadcastParams {
  @Length(1, 200, { message: 'title must be 1 to 200 characters' })
  @IsString({ message: 'title must be a string' })
  title!: string;

  @Length(1, 10_000, { message: 'message must be 1 to 10000 characters' })
  @IsString({ message: 'message must be a string' })
  message!: string;

  @IsIn(LEVELS, { message: `type must be one of ${LEVELS.join(', ')}` })
  type!: NotificationLevel;
}

/** `notification.send` */
export class NotificationParams extends BroadcastParams {
  @IsChatId()
  user_id!: string;

  @IsOptional()
  @MaxLength(2048, { message: 'action_url must be at most 2048 characters' })
  @IsString({ message: 'action_url must be a string' })
  action_url?: string;
}

/** `user.disconnect` */
export class DisconnectParams {
  @IsChatId()
  user_id!: string;

  /** Sent as the close reason: 40 characters fit the 123 bytes a close frame holds. */
  @IsOptional()
  @MaxLength(40, { message: 'reason must be at most 40 characters' })
  @IsString({ message: 'reason must be a string' })
  reason?: string;
}

/** `join_room`, `leave_room`, `presence` */
export class RoomParams {
  @IsChatId()
  room!: string;
}

/** `join_room`: `since` recovers what came after a position, as on `join`. */
export class JoinRoomParams extends RoomParams {
  @IsOptional()
  @IsStreamPosition()
  since?: StreamPositionFields;
}

/** `history` */
export class HistoryParams extends RoomParams {
  @IsOptional()
  @IsHistoryLimit()
  limit?: number;

  @IsOptional()
  @IsHistoryBefore()
  before?: number;
}

/** `rooms`: no params. */
export class NoParams {}
