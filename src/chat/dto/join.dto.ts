import { IsOptional } from 'class-validator';
import type { StreamPositionFields } from '../../protocol/chat.protocol';
import { IsChatId } from './id.validators';
import { IsStreamPosition } from './stream-position.validator';

/**
 * `{type:"join", userId, roomId?, since?}`: roomId defaults to userId; `since` asks to recover
 * what came after a position; `null` counts as absent.
 */
export class JoinDto {
  @IsChatId()
  userId!: string;

  @IsOptional()
  @IsChatId()
  roomId?: string | null;

  @IsOptional()
  @IsStreamPosition()
  since?: StreamPositionFields | null;
}
