import { ValidateBy, ValidationOptions } from 'class-validator';
import type { StreamPositionFields } from '../../protocol/chat.protocol';

/** Longest epoch accepted back from a client; the server's own are 8 characters. */
const EPOCH_MAX_LENGTH = 64;

/** A `since` position: `{offset: integer >= 0, epoch: string}`, as the server sent them. */
export function IsStreamPosition(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStreamPosition',
      validator: {
        validate: (value: unknown): boolean => isStreamPosition(value),
        defaultMessage: () =>
          '$property must be {"offset": an integer >= 0, "epoch": a string of at most 64 characters}',
      },
    },
    options,
  );
}

function isStreamPosition(value: unknown): value is StreamPositionFields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { offset, epoch } = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(offset) &&
    (offset as number) >= 0 &&
    typeof epoch === 'string' &&
    epoch.length <= EPOCH_MAX_LENGTH
  );
}

/** A copy of just the two fields: nothing else the client put in the object travels on. */
export function positionOf(
  since: StreamPositionFields | null | undefined,
): StreamPositionFields | undefined {
  return since ? { offset: since.offset, epoch: since.epoch } : undefined;
}
