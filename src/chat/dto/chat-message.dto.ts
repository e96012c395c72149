import { IsOptional, IsString, MinLength } from 'class-validator';
import { IsChatId } from './id.validators';

/**
 * `{type:"chat_message", userId, content, messageId?}`. The upper bound on content is
 * MAX_MESSAGE_LENGTH, a setting, so RoomsService checks it. `messageId` (the id pattern) names
 * the message: a resend of it within IDEMPOTENCY_WINDOW_MS is not broadcast again.
 */
export class ChatMessageDto {
  @IsChatId()
  userId!: string;

  // Decorators run bottom-up: the type check must come last in the source to be reported first.
  @MinLength(1, { message: 'content must not be empty' })
  @IsString({ message: 'content must be a string' })
  content!: string;

  @IsOptional()
  @IsChatId()
  messageId?: string;
}
