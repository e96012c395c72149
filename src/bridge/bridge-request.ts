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
  /** The raw payload, as the dead letter keeps it (its start only, when too large). */
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

/** A too large payload is read for its reply list up to this many times the limit, no further. */
const TOO_LARGE_READ_FACTOR = 16;
/** What the dead letter keeps of a too large payload: its start. */
const TOO_LARGE_KEPT_CHARS = 1024;

/**
 * Reads an entry's fields (`[name, value, name, value…]`, as XREADGROUP gives them). A payload
 * of more than `maxPayloadBytes` bytes (MAX_PAYLOAD_BYTES, as for the HTTP API) is `too_large`.
 */
export function parseEntry(fields: readonly string[], maxPayloadBytes: number): ParsedEntry {
  const payload = fieldOf(fields, 'payload');
  if (payload === undefined) {
    return invalid('invalid_json', '', [{ field: 'payload', error: 'the entry has no payload' }]);
  }
  const bytes = Buffer.byteLength(payload);
  if (bytes > maxPayloadBytes) return tooLarge(payload, bytes, maxPayloadBytes);
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
 * A payload over the limit is not run. It is answered when its reply list can be found: the
 * payload is parsed for `reply_to` and `correlation_id` only while it is at most
 * TOO_LARGE_READ_FACTOR times the limit, so an entry of any size costs a bounded parse.
 */
function tooLarge(payload: string, bytes: number, limit: number): ParsedEntry {
  const errors = [
    { field: 'payload', error: `is ${bytes} bytes, more than MAX_PAYLOAD_BYTES (${limit})` },
  ];
  let correlationId: string | undefined;
  let replyTo: string | undefined;
  if (bytes <= limit * TOO_LARGE_READ_FACTOR) {
    try {
      const body = JSON.parse(payload) as { correlation_id?: unknown; reply_to?: unknown } | null;
      if (isName(body?.correlation_id)) correlationId = body.correlation_id;
      if (isName(body?.reply_to)) replyTo = body.reply_to;
    } catch {
      // Not JSON either: nobody to answer.
    }
  }
  const kept =
    payload.length > TOO_LARGE_KEPT_CHARS ? `${payload.slice(0, TOO_LARGE_KEPT_CHARS)}…` : payload;
  return { ok: false, reason: 'too_large', errors, payload: kept, correlationId, replyTo };
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

/** The value of field `name` of an entry, or undefined. */
export function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === name) return fields[i + 1];
  }
  return undefined;
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
