import { ErrorCode } from '../protocol/error-code';

/** What the adapter dispatches on: the handler registered for `event` receives `data`. */
export interface ParsedMessage {
  event: string;
  data: unknown;
}

/** Payload of the reserved protocol-error event. */
export interface ProtocolErrorData {
  code: ErrorCode;
  message: string;
}

/**
 * The event bad frames are mapped to. The stock adapter silently drops frames it cannot dispatch;
 * an unanswered frame on a public socket leaves clients guessing, so every bad frame is routed to
 * one handler that answers an error. Clients cannot reach it: only known types become events.
 */
export const PROTOCOL_ERROR_EVENT = '#protocol_error';

// Keys that change an object's prototype when copied with assignment; no field of ours uses them.
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_ECHOED_TYPE = 64;

export type MessageParser = (raw: unknown) => ParsedMessage;

/**
 * Maps a flat `{type, ...fields}` text frame to `{event: type, data: fields}`. Never throws: bad
 * input becomes a PROTOCOL_ERROR_EVENT carrying the error code to answer with.
 */
export function createMessageParser(knownTypes: ReadonlySet<string>): MessageParser {
  return (raw) => {
    if (typeof raw !== 'string') {
      return protocolError(
        ErrorCode.Unsupported,
        'binary frames are not supported; send JSON text',
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return protocolError(ErrorCode.InvalidJson, 'frame is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return protocolError(ErrorCode.InvalidMessage, 'message must be a JSON object');
    }
    const fields = value as Record<string, unknown>;
    const type = fields.type;
    if (typeof type !== 'string') {
      return protocolError(ErrorCode.InvalidMessage, 'type must be a string');
    }
    if (!knownTypes.has(type)) {
      return protocolError(
        ErrorCode.UnknownType,
        `unknown message type: ${JSON.stringify(type.slice(0, MAX_ECHOED_TYPE))}`,
      );
    }
    const data: Record<string, unknown> = {};
    for (const key of Object.keys(fields)) {
      if (RESERVED_KEYS.has(key)) {
        return protocolError(ErrorCode.InvalidMessage, `${key} is not an allowed field`);
      }
      const field = fields[key];
      // A lone surrogate (`"\ud800"`) parses, but would be relayed to every member and breaks
      // strict JSON parsers there.
      if (typeof field === 'string' && !isWellFormed(field)) {
        return protocolError(
          ErrorCode.InvalidMessage,
          `${key.slice(0, MAX_ECHOED_TYPE)} must be well-formed Unicode (no lone surrogates)`,
        );
      }
      if (key !== 'type') data[key] = field;
    }
    return { event: type, data };
  };
}

/** `String.prototype.isWellFormed` (Node 20; ES2024, beyond the ES2022 lib we compile against). */
function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}

function protocolError(code: ErrorCode, message: string): ParsedMessage {
  const data: ProtocolErrorData = { code, message };
  return { event: PROTOCOL_ERROR_EVENT, data };
}
