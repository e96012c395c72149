import { IsString, MinLength } from 'class-validator';
import { IsChatId } from './id.validators';

/** `{type:"chat_message", userId, content}`. The upper bound on content is MAX_MESSAGE_LENGTH,
 * a setting, so RoomsService checks it. */
export class ChatMessageDto {
  @IsChatId()
  userId!: string;

  @IsString({ message: 'content must be a string' })
  @MinLength(1, { message: 'content must not be empty' })
  content!: string;
}
