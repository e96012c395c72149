import { IsOptional } from 'class-validator';
import { IsChatId } from './id.validators';
import { IsHistoryBefore, IsHistoryLimit } from './history-query.validators';

/**
 * `{type:"history", roomId?, limit?, before?}`: roomId defaults to the current room, `limit` to
 * 50 (one above HISTORY_MAX_LIMIT is lowered to it, not refused), `before` (an offset,
 * exclusive) to the newest; `null` counts as absent.
 */
export class HistoryDto {
  @IsOptional()
  @IsChatId()
  roomId?: string | null;

  @IsOptional()
  @IsHistoryLimit()
  limit?: number | null;

  @IsOptional()
  @IsHistoryBefore()
  before?: number | null;
}
