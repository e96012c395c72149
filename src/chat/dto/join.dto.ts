import { IsOptional } from 'class-validator';
import { IsChatId } from './id.validators';

/** `{type:"join", userId, roomId?}`: roomId defaults to userId. */
export class JoinDto {
  @IsChatId()
  userId!: string;

  @IsOptional()
  @IsChatId()
  roomId?: string;
}
