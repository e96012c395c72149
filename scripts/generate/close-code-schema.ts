import {
  CLOSE_CODE_TABLE,
  NO_RECONNECT_RANGE,
  RECONNECT_RANGE,
} from '../../src/protocol/close-codes';
import type { JsonSchema } from '../../src/protocol/json-schema';

/** The close codes of CLOSE_CODE_TABLE, one entry per code with every case it is sent in. */
export function closeCodeSchema(): JsonSchema {
  const cases = new Map<number, string[]>();
  for (const row of CLOSE_CODE_TABLE) {
    const line = `${row.when} (reconnect: ${row.reconnect})`;
    cases.set(row.code, [...(cases.get(row.code) ?? []), line]);
  }
  return {
    type: 'integer',
    description:
      `WebSocket close codes the server sends. ${RECONNECT_RANGE.from}–${RECONNECT_RANGE.to}: ` +
      `reconnect with backoff; ${NO_RECONNECT_RANGE.from}–${NO_RECONNECT_RANGE.to}: do not reconnect.`,
    oneOf: [...cases].map(([code, whens]) => ({ const: code, description: whens.join('; ') })),
  };
}
