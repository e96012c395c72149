import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import {
  ENTITY_ID_PATTERN,
  ENTITY_ID_TEXT,
  EVENT_TEXT_MAX_LENGTH,
  IsJsonValue,
  IsTimestampLike,
} from './validators';

const ROLES = ['user', 'assistant', 'system'] as const;
const TASK_STATES = ['pending', 'running', 'completed', 'failed'] as const;

abstract class SessionParams {
  @Matches(ENTITY_ID_PATTERN, { message: `session_id must be ${ENTITY_ID_TEXT}` })
  @IsString({ message: 'session_id must be a string' })
  session_id!: string;
}

/** `session.message`: one AI message, or one chunk of a streamed one (`is_streaming`). */
export class SessionMessageParams extends SessionParams {
  @Length(1, 256, { message: 'message_id must be 1 to 256 characters' })
  @IsString({ message: 'message_id must be a string' })
  message_id!: string;

  @IsIn(ROLES, { message: `role must be one of ${ROLES.join(', ')}` })
  role!: (typeof ROLES)[number];

  /** May be empty: a stream's last chunk often is. */
  @MaxLength(EVENT_TEXT_MAX_LENGTH, {
    message: `content must be at most ${EVENT_TEXT_MAX_LENGTH} characters`,
  })
  @IsString({ message: 'content must be a string' })
  content!: string;

  @IsBoolean({ message: 'is_streaming must be a boolean' })
  is_streaming!: boolean;

  @IsBoolean({ message: 'is_final must be a boolean' })
  is_final!: boolean;

  @IsOptional()
  @Min(0, { message: 'seq must be an integer from 0' })
  @IsInt({ message: 'seq must be an integer from 0' })
  seq?: number;

  @IsOptional()
  @IsTimestampLike()
  timestamp?: string | number;
}

/** `session.task_status` */
export class TaskStatusParams extends SessionParams {
  @Length(1, 256, { message: 'task_id must be 1 to 256 characters' })
  @IsString({ message: 'task_id must be a string' })
  task_id!: string;

  @IsIn(TASK_STATES, { message: `status must be one of ${TASK_STATES.join(', ')}` })
  status!: (typeof TASK_STATES)[number];

  @IsOptional()
  @Max(100, { message: 'progress must be a number from 0 to 100' })
  @Min(0, { message: 'progress must be a number from 0 to 100' })
  @IsNumber({}, { message: 'progress must be a number from 0 to 100' })
  progress?: number;

  @IsOptional()
  @IsJsonValue()
  result?: unknown;

  @IsOptional()
  @MaxLength(10_000, { message: 'error must be at most 10000 characters' })
  @IsString({ message: 'error must be a string' })
  error?: string;
}

/** `session.context_updated` */
export class ContextUpdatedParams extends SessionParams {
  @IsJsonValue()
  @IsObject({ message: 'context must be an object' })
  context!: Record<string, unknown>;
}
