import { IsOptional } from 'class-validator';
import type { StreamPositionFields } from '../../protocol/chat.protocol';
import { IsChatId } from './id.validators';
import { IsStreamPosition } from './stream-position.validator';

/** `{type:"switch_room", userId, roomId, since?}`; `since` as in `join`. */
export class SwitchRoomDto {
  @IsChatId()
  userId!: string;

  @IsChatId()
  roomId!: string;

  @IsOptional()
  @IsStreamPosition()
  since?: StreamPositionFields | null;
}
