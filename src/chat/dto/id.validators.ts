import { applyDecorators } from '@nestjs/common';
import { IsString, Matches } from 'class-validator';
import { ID_PATTERN, ID_PATTERN_TEXT } from '../../protocol/ids';

/** A userId or roomId: 1 to 128 characters of [A-Za-z0-9_.:@-]. */
export function IsChatId(): PropertyDecorator {
  return applyDecorators(
    IsString({ message: '$property must be a string' }),
    Matches(ID_PATTERN, { message: `$property must be ${ID_PATTERN_TEXT}` }),
  );
}
