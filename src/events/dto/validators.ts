import { ValidateBy, ValidationOptions } from 'class-validator';

/** Ids that name a room after a prefix (`workspace:<id>`): room id characters, at most 100. */
export const ENTITY_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,100}$/;
export const ENTITY_ID_TEXT = '1 to 100 characters of [A-Za-z0-9_.:@-]';

/** A time as Django sends it: an ISO-8601 string or seconds/milliseconds since the epoch. */
export function IsTimestampLike(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isTimestampLike',
      validator: {
        validate: (value: unknown): boolean =>
          (typeof value === 'number' && Number.isFinite(value) && value >= 0) ||
          (typeof value === 'string' && value.length <= 64 && !Number.isNaN(Date.parse(value))),
        defaultMessage: () => '$property must be an ISO-8601 string or a number of seconds',
      },
    },
    options,
  );
}

/** Any JSON value but undefined: kept as sent (`result`, `context` of the seed's methods). */
export function IsJsonValue(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isJsonValue',
      validator: {
        validate: (value: unknown): boolean => value !== undefined,
        defaultMessage: () => '$property must be a JSON value',
      },
    },
    options,
  );
}
