import { IsOptional } from 'class-validator';
import { IsChatId } from './id.validators';

/** `{type:"join", userId, roomId?}`: roomId defaults to userId; `null` counts as absent. */
export class JoinDto {
  @IsChatId()
  userId!: string;

  @IsOptional()
  @IsChatId()
  roomId?: string | null;
}
