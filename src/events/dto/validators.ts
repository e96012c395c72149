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

/**
 * Longest text of an event's free-text fields (`content`, `diff`) and longest serialized JSON of
 * its free-form values (`result`, `context`), in characters. The frame as a whole is bounded by
 * MAX_EVENT_BYTES on top of this (checked when it is published).
 */
export const EVENT_TEXT_MAX_LENGTH = 262_144;

/**
 * Any JSON value but undefined, kept as sent (`result`, `context` of the seed's methods), whose
 * JSON text is at most EVENT_TEXT_MAX_LENGTH characters (which bounds every string inside it).
 */
export function IsJsonValue(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isJsonValue',
      validator: {
        validate: (value: unknown): boolean =>
          value !== undefined && jsonLength(value) <= EVENT_TEXT_MAX_LENGTH,
        defaultMessage: () =>
          `$property must be a JSON value of at most ${EVENT_TEXT_MAX_LENGTH} characters as JSON`,
      },
    },
    options,
  );
}

function jsonLength(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
