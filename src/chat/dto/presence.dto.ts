import { IsOptional } from 'class-validator';
import { IsChatId } from './id.validators';

/** `{type:"presence", roomId?}`: roomId defaults to the connection's current room. */
export class PresenceDto {
  @IsOptional()
  @IsChatId()
  roomId?: string | null;
}
