import { ChatError } from '../protocol/chat-error';
import { ErrorCode } from '../protocol/error-code';

/** What a session dispatches on: the handler registered for `event` receives `data`. */
export interface ParsedMessage {
  event: string;
  data: unknown;
}

// Keys that change an object's prototype when copied with assignment; no field of ours uses them.
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_ECHOED_TYPE = 64;

/**
 * Maps a flat `{type, ...fields}` text frame to `{event: type, data: fields}`. `knownTypes` are
 * the message types of the handlers registered on the frame's path. Never throws: a bad frame
 * (binary, bad JSON, not an object, unknown type, a prototype key) becomes the ChatError to answer
 * it with, so every bad frame on a public socket gets an answer instead of silence.
 */
export function parseFrame(
  raw: unknown,
  knownTypes: ReadonlySet<string>,
): ParsedMessage | ChatError {
  if (typeof raw !== 'string') {
    return new ChatError(ErrorCode.Unsupported, 'binary frames are not supported; send JSON text');
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return new ChatError(ErrorCode.InvalidJson, 'frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return new ChatError(ErrorCode.InvalidMessage, 'message must be a JSON object');
  }
  const fields = value as Record<string, unknown>;
  const type = fields.type;
  if (typeof type !== 'string') {
    return new ChatError(ErrorCode.InvalidMessage, 'type must be a string');
  }
  if (!knownTypes.has(type)) {
    return new ChatError(
      ErrorCode.UnknownType,
      `unknown message type: ${JSON.stringify(type.slice(0, MAX_ECHOED_TYPE))}`,
    );
  }
  const data: Record<string, unknown> = {};
  for (const key of Object.keys(fields)) {
    if (RESERVED_KEYS.has(key)) {
      return new ChatError(ErrorCode.InvalidMessage, `${key} is not an allowed field`);
    }
    const field = fields[key];
    // A lone surrogate (`"\ud800"`) parses, but would be relayed to every member and breaks
    // strict JSON parsers there.
    if (typeof field === 'string' && !isWellFormed(field)) {
      return new ChatError(
        ErrorCode.InvalidMessage,
        `${key.slice(0, MAX_ECHOED_TYPE)} must be well-formed Unicode (no lone surrogates)`,
      );
    }
    if (key !== 'type') data[key] = field;
  }
  return { event: type, data };
}

/** `String.prototype.isWellFormed` (Node 20; ES2024, beyond the ES2022 lib we compile against). */
function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}
