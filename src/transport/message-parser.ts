import { ChatError } from '../protocol/chat-error';
import { ErrorCode } from '../protocol/error-code';
import { isCorrelationId, RpcMessageType } from '../protocol/rpc.protocol';

/** What a session dispatches on: the handler registered for `event` receives `data`. */
export interface ParsedMessage {
  event: string;
  data: unknown;
  /**
   * The `correlation_id` of an `rpc` frame, when it is one the server can echo: whatever the
   * transport answers to this frame itself (a refusal over the rate limit, for another user)
   * carries it back, in the RPC error shape.
   */
  correlationId?: string;
}

/** An `rpc` frame the parser refused, with the correlation id its answer carries back. */
export class RefusedFrame {
  constructor(
    readonly error: ChatError,
    readonly correlationId: string,
    /** The frame's field at fault. */
    readonly field: string,
  ) {}
}

// Keys that change an object's prototype when copied with assignment; no field of ours uses them.
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_ECHOED_TYPE = 64;

/**
 * Maps a flat `{type, ...fields}` text frame to `{event: type, data: fields}`. `knownTypes` are
 * the message types of the handlers registered on the frame's path. Never throws: a bad frame
 * (binary, bad JSON, not an object, unknown type, a prototype key) becomes the ChatError to answer
 * it with, so every bad frame on a public socket gets an answer instead of silence; a bad `rpc`
 * frame whose correlation id is usable becomes a RefusedFrame, so that its answer carries the id.
 */
export function parseFrame(
  raw: unknown,
  knownTypes: ReadonlySet<string>,
): ParsedMessage | ChatError | RefusedFrame {
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
  const correlationId = correlationIdIn(type, fields);
  const refuse = (error: ChatError, key: string): ChatError | RefusedFrame =>
    correlationId === undefined ? error : new RefusedFrame(error, correlationId, key);
  const data: Record<string, unknown> = {};
  for (const key of Object.keys(fields)) {
    if (RESERVED_KEYS.has(key)) {
      return refuse(new ChatError(ErrorCode.InvalidMessage, `${key} is not an allowed field`), key);
    }
    const field = fields[key];
    // A lone surrogate (`"\ud800"`) parses, but would be relayed to every member and breaks
    // strict JSON parsers there.
    if (typeof field === 'string' && !isWellFormed(field)) {
      const name = key.slice(0, MAX_ECHOED_TYPE);
      const error = new ChatError(
        ErrorCode.InvalidMessage,
        `${name} must be well-formed Unicode (no lone surrogates)`,
      );
      return refuse(error, name);
    }
    if (key !== 'type') data[key] = field;
  }
  return correlationId === undefined ? { event: type, data } : { event: type, data, correlationId };
}

/**
 * The `correlation_id` of a text frame when it is an `rpc` frame whose id the server can echo,
 * for answers given before the frame is parsed (the refusal of a first frame that is not a token).
 */
export function rpcCorrelationIdOf(raw: string): string | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const fields = value as Record<string, unknown>;
    return typeof fields.type === 'string' ? correlationIdIn(fields.type, fields) : undefined;
  } catch {
    return undefined;
  }
}

function correlationIdIn(type: string, fields: Record<string, unknown>): string | undefined {
  if (type !== RpcMessageType.Rpc) return undefined;
  const id = fields.correlation_id;
  // An id with a lone surrogate is not echoed: the answer would carry it to the client.
  return isCorrelationId(id) && isWellFormed(id) ? id : undefined;
}

/** `String.prototype.isWellFormed` (Node 20; ES2024, beyond the ES2022 lib we compile against). */
function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}
