import { IsIn, IsInt, IsOptional, IsString, Length, Max, MaxLength, Min } from 'class-validator';
import { IsChatId } from '../../chat/dto/id.validators';
import { IsStreamPosition } from '../../chat/dto/stream-position.validator';
import type { StreamPositionFields } from '../../protocol/chat.protocol';
import type { NotificationLevel } from '../../protocol/event.protocol';

const LEVELS: readonly NotificationLevel[] = ['info', 'success', 'warning', 'error'];

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
  @Min(0, { message: 'limit must be an integer from 0' })
  @IsInt({ message: 'limit must be an integer from 0' })
  limit?: number;

  @IsOptional()
  @Max(Number.MAX_SAFE_INTEGER, { message: 'before must be an offset' })
  @Min(1, { message: 'before must be an integer from 1 (an offset)' })
  @IsInt({ message: 'before must be an integer from 1 (an offset)' })
  before?: number;
}

/** `rooms`: no params. */
export class NoParams {}
