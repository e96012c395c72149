import {
  HISTORY_BEFORE_MESSAGE,
  HISTORY_LIMIT_MESSAGE,
} from '../../src/chat/dto/history-query.validators';
import { EVENT_TEXT_MAX_LENGTH } from '../../src/events/dto/validators';
import { JsonSchema, ref } from '../../src/protocol/json-schema';

/**
 * The schemas of the server's own validators (`ValidateBy`), by validator name: what
 * class-validator-jsonschema cannot read from a function. A new validator must be added here,
 * or `npm run generate` fails naming it.
 */
export const CUSTOM_VALIDATOR_SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  isStreamPosition: ref('StreamPosition'),
  isHistoryLimit: { type: 'integer', minimum: 0, description: HISTORY_LIMIT_MESSAGE },
  isHistoryBefore: { type: 'integer', minimum: 1, description: HISTORY_BEFORE_MESSAGE },
  isTimestampLike: {
    description: 'An ISO-8601 string, or seconds (or milliseconds) since the epoch.',
    anyOf: [
      { type: 'string', maxLength: 64 },
      { type: 'number', minimum: 0 },
    ],
  },
  isJsonValue: {
    description: `Any JSON value of at most ${EVENT_TEXT_MAX_LENGTH} characters as JSON.`,
  },
};
