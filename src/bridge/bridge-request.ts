import type { ValidationErrorItem } from '../protocol/rpc.protocol';

/**
 * One request of seed 003's Django client, read from the request stream: the entry's one field
 * `payload` holds `{"type":"rpc","method","params","correlation_id","reply_to"?,"timeout"}`.
 */
export interface BridgeRequest {
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly correlationId: string;
  /** The Redis list the reply is pushed to; undefined: nobody waits for one. */
  readonly replyTo: string | undefined;
  /** Seconds the caller waits from the entry's creation; 0: fire-and-forget. */
  readonly timeoutS: number;
}

/** An entry that is not a request: dead-lettered, and answered when it names a reply list. */
export interface InvalidEntry {
  /**
   * The dead letter's `reason`: `invalid_json`, `invalid_request`, or `too_large` (a payload
   * over MAX_PAYLOAD_BYTES, refused as the HTTP API refuses such a body).
   */
  readonly reason: 'invalid_json' | 'invalid_request' | 'too_large';
  readonly errors: ValidationErrorItem[];
  /** The payload, of which the dead letter keeps the first DEAD_LETTER_PAYLOAD_BYTES bytes. */
  readonly payload: string;
  readonly correlationId: string | undefined;
  readonly replyTo: string | undefined;
}

export type ParsedEntry =
  { readonly ok: true; readonly request: BridgeRequest } | ({ readonly ok: false } & InvalidEntry);

/** Seed 003's rule for method names (`BaseRPCRequest`). */
const METHOD = /^[A-Za-z0-9_.]{1,100}$/;
/** The seed's bounds: `reply_to` up to 200 characters, `timeout` 0 to 300 s (default 30). */
const MAX_NAME_LENGTH = 200;
const MAX_TIMEOUT_S = 300;
const DEFAULT_TIMEOUT_S = 30;

/** What a dead letter keeps of a payload: its first bytes. */
export const DEAD_LETTER_PAYLOAD_BYTES = 1024;

/**
 * Reads an entry's `payload` (undefined: the entry has none). A payload of more than
 * `maxPayloadBytes` bytes (MAX_PAYLOAD_BYTES, as for the HTTP API) is `too_large`.
 */
export function parseEntry(payload: string | undefined, maxPayloadBytes: number): ParsedEntry {
  if (payload === undefined) {
    return invalid('invalid_json', '', [{ field: 'payload', error: 'the entry has no payload' }]);
  }
  const bytes = Buffer.byteLength(payload);
  if (bytes > maxPayloadBytes) {
    const kept = Buffer.from(payload);
    const head = kept.subarray(0, DEAD_LETTER_PAYLOAD_BYTES).toString();
    const tail = kept.subarray(-DEAD_LETTER_PAYLOAD_BYTES).toString();
    return parseOversized({ bytes, head, tail }, maxPayloadBytes);
  }
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return invalid('invalid_json', payload, [{ field: 'payload', error: 'not valid JSON' }]);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalid('invalid_json', payload, [{ field: 'payload', error: 'not a JSON object' }]);
  }
  return parseRequest(body as Record<string, unknown>, payload);
}

/**
 * A payload over the limit, of which only its size and its first and last bytes left Redis: not
 * run, dead-lettered with its start. It is answered when its `correlation_id` and `reply_to` are
 * found in those bytes (the Django client writes them after `params`, so in the last ones).
 */
export function parseOversized(
  payload: { readonly bytes: number; readonly head: string; readonly tail: string },
  limit: number,
): ParsedEntry {
  const errors = [
    {
      field: 'payload',
      error: `is ${payload.bytes} bytes, more than MAX_PAYLOAD_BYTES (${limit})`,
    },
  ];
  return {
    ok: false,
    reason: 'too_large',
    errors,
    payload: payload.head,
    correlationId: nameIn(payload, 'correlation_id'),
    replyTo: nameIn(payload, 'reply_to'),
  };
}

/**
 * The string value of `"key": "…"` in the kept bytes of a payload: its last occurrence in the
 * tail, else its first in the head. A key of nested params may be taken for the request's: the
 * answer then goes to a list the payload names, as a valid request naming it could.
 */
function nameIn(payload: { head: string; tail: string }, key: string): string | undefined {
  const pattern = new RegExp(`"${key}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*")`, 'g');
  const candidates = [
    ...[...payload.tail.matchAll(pattern)].reverse(),
    ...payload.head.matchAll(pattern),
  ];
  for (const [, quoted] of candidates) {
    try {
      const value: unknown = JSON.parse(quoted);
      if (isName(value)) return value;
    } catch {
      // Cut at the edge of the kept bytes: not a whole string.
    }
  }
  return undefined;
}

/**
 * What a dead letter keeps of a payload: the whole characters of its first
 * DEAD_LETTER_PAYLOAD_BYTES bytes.
 */
export function payloadHead(payload: string): string {
  if (payload.length <= DEAD_LETTER_PAYLOAD_BYTES / 4) return payload;
  const bytes = Buffer.from(payload);
  if (bytes.length <= DEAD_LETTER_PAYLOAD_BYTES) return payload;
  // Streaming, the decoder holds back a character cut at the end instead of replacing it.
  return new TextDecoder().decode(bytes.subarray(0, DEAD_LETTER_PAYLOAD_BYTES), { stream: true });
}

function parseRequest(body: Record<string, unknown>, payload: string): ParsedEntry {
  const errors: ValidationErrorItem[] = [];
  const { type, method, params, correlation_id: cid, reply_to: replyTo, timeout } = body;
  if (type !== 'rpc') errors.push({ field: 'type', error: 'must be "rpc"' });
  if (typeof method !== 'string' || !METHOD.test(method)) {
    errors.push({ field: 'method', error: 'must be 1 to 100 characters of [A-Za-z0-9_.]' });
  }
  const paramsOk =
    params === undefined ||
    params === null ||
    (typeof params === 'object' && !Array.isArray(params));
  if (!paramsOk) errors.push({ field: 'params', error: 'must be an object' });
  const correlationId = isName(cid) ? cid : undefined;
  if (correlationId === undefined) {
    errors.push({ field: 'correlation_id', error: 'must be a string of 1 to 200 characters' });
  }
  const replyOk = replyTo === undefined || replyTo === null || isName(replyTo);
  if (!replyOk)
    errors.push({ field: 'reply_to', error: 'must be a string of 1 to 200 characters' });
  const timeoutS = timeout === undefined || timeout === null ? DEFAULT_TIMEOUT_S : timeout;
  if (typeof timeoutS !== 'number' || !(timeoutS >= 0 && timeoutS <= MAX_TIMEOUT_S)) {
    errors.push({
      field: 'timeout',
      error: `must be a number of seconds from 0 to ${MAX_TIMEOUT_S}`,
    });
  }
  const reply = isName(replyTo) ? replyTo : undefined;
  if (errors.length > 0) {
    return { ok: false, reason: 'invalid_request', errors, payload, correlationId, replyTo: reply };
  }
  return {
    ok: true,
    request: {
      method: method as string,
      params: (params ?? {}) as Record<string, unknown>,
      correlationId: correlationId as string,
      replyTo: reply,
      timeoutS: timeoutS as number,
    },
  };
}

/**
 * Confines replies to RPC_REPLY_PREFIX: a request whose `reply_to` does not start with `prefix`
 * becomes an `invalid_request` entry (dead-lettered, answered nowhere), and an invalid entry's
 * `reply_to` is kept only when it does. `payload`: the entry's raw payload, for the dead letter.
 */
export function confineReplyTo(parsed: ParsedEntry, prefix: string, payload: string): ParsedEntry {
  if (!parsed.ok) {
    const allowed = parsed.replyTo?.startsWith(prefix) ? parsed.replyTo : undefined;
    return allowed === parsed.replyTo ? parsed : { ...parsed, replyTo: allowed };
  }
  const { replyTo, correlationId } = parsed.request;
  if (replyTo === undefined || replyTo.startsWith(prefix)) return parsed;
  const error = `must start with ${JSON.stringify(prefix)} (RPC_REPLY_PREFIX)`;
  return {
    ok: false,
    reason: 'invalid_request',
    errors: [{ field: 'reply_to', error }],
    payload,
    correlationId,
    replyTo: undefined,
  };
}

function invalid(
  reason: InvalidEntry['reason'],
  payload: string,
  errors: ValidationErrorItem[],
): ParsedEntry {
  return { ok: false, reason, errors, payload, correlationId: undefined, replyTo: undefined };
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_NAME_LENGTH;
}

/** When the entry was added (Redis' clock): the ms part of its id `<ms>-<seq>`. */
export function entryTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/**
 * The caller has given up on a request when its timeout has passed since the entry was added;
 * fire-and-forget requests (timeout 0) never expire.
 */
export function hasExpired(id: string, request: BridgeRequest, now: number): boolean {
  return request.timeoutS > 0 && entryTime(id) + request.timeoutS * 1000 < now;
}
