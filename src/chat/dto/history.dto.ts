import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { IsChatId } from './id.validators';

/** Largest `limit` the message accepts; the server then gives at most HISTORY_MAX_LIMIT. */
const LIMIT_CEILING = 1_000_000;

/**
 * `{type:"history", roomId?, limit?, before?}`: roomId defaults to the current room, `limit` to
 * 50 (a larger one than HISTORY_MAX_LIMIT gives that many), `before` (an offset, exclusive) to
 * the newest; `null` counts as absent.
 */
export class HistoryDto {
  @IsOptional()
  @IsChatId()
  roomId?: string | null;

  @IsOptional()
  @IsInt({ message: 'limit must be an integer from 0' })
  @Min(0, { message: 'limit must be an integer from 0' })
  @Max(LIMIT_CEILING, { message: `limit must be at most ${LIMIT_CEILING}` })
  limit?: number | null;

  @IsOptional()
  @IsInt({ message: 'before must be an integer from 1 (an offset)' })
  @Min(1, { message: 'before must be an integer from 1 (an offset)' })
  before?: number | null;
}
