import { IsIn, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import {
  ENTITY_ID_PATTERN,
  ENTITY_ID_TEXT,
  EVENT_TEXT_MAX_LENGTH,
  IsTimestampLike,
} from './validators';

const FILE_EVENTS = ['create', 'modify', 'delete', 'rename'] as const;

abstract class WorkspaceParams {
  @Matches(ENTITY_ID_PATTERN, { message: `workspace_id must be ${ENTITY_ID_TEXT}` })
  @IsString({ message: 'workspace_id must be a string' })
  workspace_id!: string;
}

/** `workspace.file_changed` */
export class FileChangedParams extends WorkspaceParams {
  @Length(1, 4096, { message: 'file_path must be 1 to 4096 characters' })
  @IsString({ message: 'file_path must be a string' })
  file_path!: string;

  @IsIn(FILE_EVENTS, { message: `event_type must be one of ${FILE_EVENTS.join(', ')}` })
  event_type!: (typeof FILE_EVENTS)[number];

  @IsOptional()
  @MaxLength(4096, { message: 'old_path must be at most 4096 characters' })
  @IsString({ message: 'old_path must be a string' })
  old_path?: string;

  @IsOptional()
  @MaxLength(EVENT_TEXT_MAX_LENGTH, {
    message: `content must be at most ${EVENT_TEXT_MAX_LENGTH} characters`,
  })
  @IsString({ message: 'content must be a string' })
  content?: string;

  @IsOptional()
  @MaxLength(EVENT_TEXT_MAX_LENGTH, {
    message: `diff must be at most ${EVENT_TEXT_MAX_LENGTH} characters`,
  })
  @IsString({ message: 'diff must be a string' })
  diff?: string;

  @IsOptional()
  @IsTimestampLike()
  timestamp?: string | number;
}

/** `workspace.snapshot_created` */
export class SnapshotCreatedParams extends WorkspaceParams {
  @Length(1, 256, { message: 'snapshot_id must be 1 to 256 characters' })
  @IsString({ message: 'snapshot_id must be a string' })
  snapshot_id!: string;

  @Length(1, 256, { message: 'name must be 1 to 256 characters' })
  @IsString({ message: 'name must be a string' })
  name!: string;

  @IsOptional()
  @MaxLength(10_000, { message: 'description must be at most 10000 characters' })
  @IsString({ message: 'description must be a string' })
  description?: string;

  @IsOptional()
  @IsTimestampLike()
  created_at?: string | number;
}

/** `workspace.state_changed` */
export class StateChangedParams extends WorkspaceParams {
  @Length(1, 64, { message: 'state must be 1 to 64 characters' })
  @IsString({ message: 'state must be a string' })
  state!: string;
}
