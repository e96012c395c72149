import { ValidateBy, ValidationOptions } from 'class-validator';

/**
 * The `limit` and `before` of a history read, shared by the `history` frame and the `history`
 * RPC method so that both answer alike: one rule and one message per field, whatever is wrong
 * (a fraction, a string, a negative number). A `limit` above HISTORY_MAX_LIMIT is valid: the
 * read lowers it.
 */
export const HISTORY_LIMIT_MESSAGE = 'limit must be an integer from 0';
export const HISTORY_BEFORE_MESSAGE = 'before must be an integer from 1 (an offset)';

export function IsHistoryLimit(options?: ValidationOptions): PropertyDecorator {
  return integerFrom(0, 'isHistoryLimit', HISTORY_LIMIT_MESSAGE, options);
}

export function IsHistoryBefore(options?: ValidationOptions): PropertyDecorator {
  return integerFrom(1, 'isHistoryBefore', HISTORY_BEFORE_MESSAGE, options);
}

/** A safe integer of at least `min`, refused with one `message` whatever is wrong. */
function integerFrom(
  min: number,
  name: string,
  message: string,
  options: ValidationOptions | undefined,
): PropertyDecorator {
  return ValidateBy(
    {
      name,
      validator: {
        validate: (value: unknown) => Number.isSafeInteger(value) && (value as number) >= min,
        defaultMessage: () => message,
      },
    },
    options,
  );
}
