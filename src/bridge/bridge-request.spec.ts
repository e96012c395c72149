import {
  confineReplyTo,
  hasExpired,
  parseEntry,
  parseOversized,
  payloadHead,
} from './bridge-request';

const LIMIT = 65_536;
const entry = (body: unknown): string => JSON.stringify(body);
const request = {
  type: 'rpc',
  method: 'notification.send',
  params: { user_id: 'u1' },
  correlation_id: 'c1',
  reply_to: 'list:response:c1',
  timeout: 30,
};

describe('parseEntry', () => {
  it('refuses a payload over the limit as too_large, with where to answer it', () => {
    const big = { ...request, params: { text: 'é'.repeat(40_000) } };
    const parsed = parseEntry(entry(big), LIMIT);
    const bytes = Buffer.byteLength(JSON.stringify(big));
    expect(parsed).toMatchObject({
      ok: false,
      reason: 'too_large',
      errors: [
        { field: 'payload', error: `is ${bytes} bytes, more than MAX_PAYLOAD_BYTES (${LIMIT})` },
      ],
      correlationId: request.correlation_id,
      replyTo: request.reply_to,
    });
    // The dead letter keeps the payload's start, not a second copy of all of it.
    expect(parsed.ok === false && parsed.payload.length).toBeLessThan(1_100);
  });

  it('takes a payload of exactly the limit', () => {
    const body = { ...request, params: { text: '' } };
    const padding = LIMIT - Buffer.byteLength(JSON.stringify(body));
    const exact = { ...request, params: { text: 'x'.repeat(padding) } };
    expect(Buffer.byteLength(JSON.stringify(exact))).toBe(LIMIT);
    expect(parseEntry(entry(exact), LIMIT)).toMatchObject({ ok: true });
  });

  it('finds where to answer an oversized payload in its last bytes, as the Django client writes it', () => {
    const tail = `xxx"},"correlation_id":"c1","reply_to":"list:response:c1","timeout":30}`;
    expect(
      parseOversized({ bytes: 20 * LIMIT, head: '{"type":"rpc","params":{"t":"xx', tail }, LIMIT),
    ).toMatchObject({
      ok: false,
      reason: 'too_large',
      errors: [
        {
          field: 'payload',
          error: `is ${20 * LIMIT} bytes, more than MAX_PAYLOAD_BYTES (${LIMIT})`,
        },
      ],
      correlationId: 'c1',
      replyTo: 'list:response:c1',
      payload: '{"type":"rpc","params":{"t":"xx',
    });
  });

  it('does not take an escaped key inside a string, nor a value cut at the edge, for a reply list', () => {
    const tail = String.raw`xx \"reply_to\":\"list:other\"","reply_to":"list:res`;
    expect(parseOversized({ bytes: 2 * LIMIT, head: '{', tail }, LIMIT)).toMatchObject({
      correlationId: undefined,
      replyTo: undefined,
    });
  });

  it('reads a request as seed 003’s Django client writes it', () => {
    expect(parseEntry(entry(request), LIMIT)).toEqual({
      ok: true,
      request: {
        method: 'notification.send',
        params: { user_id: 'u1' },
        correlationId: 'c1',
        replyTo: 'list:response:c1',
        timeoutS: 30,
      },
    });
  });

  it('reads a fire-and-forget request: no reply_to, timeout 0, params left out', () => {
    const { reply_to: _replyTo, params: _params, ...rest } = request;
    expect(parseEntry(entry({ ...rest, timeout: 0 }), LIMIT)).toMatchObject({
      ok: true,
      request: { replyTo: undefined, timeoutS: 0, params: {} },
    });
  });

  it('takes the seed’s default timeout of 30 s when it is left out', () => {
    const { timeout: _timeout, ...rest } = request;
    expect(parseEntry(entry(rest), LIMIT)).toMatchObject({ ok: true, request: { timeoutS: 30 } });
  });

  it.each([
    ['no payload field', undefined],
    ['a payload that is not JSON', '{oops'],
    ['a JSON array', '[1]'],
    ['a JSON string', '"rpc"'],
  ])('calls %s invalid_json', (_what, payload) => {
    expect(parseEntry(payload, LIMIT)).toMatchObject({ ok: false, reason: 'invalid_json' });
  });

  it.each([
    ['type', { type: 'chat' }],
    ['method', { method: 'has space' }],
    ['method', { method: 'x'.repeat(101) }],
    ['params', { params: [1, 2] }],
    ['correlation_id', { correlation_id: 7 }],
    ['correlation_id', { correlation_id: '' }],
    ['reply_to', { reply_to: 'r'.repeat(201) }],
    ['timeout', { timeout: 301 }],
    ['timeout', { timeout: -1 }],
    ['timeout', { timeout: '30' }],
  ])('names the invalid field %s of %j, keeping what it can answer to', (field, change) => {
    const parsed = parseEntry(entry({ ...request, ...change }), LIMIT);
    expect(parsed).toMatchObject({ ok: false, reason: 'invalid_request' });
    if (parsed.ok) return;
    expect(parsed.errors.map((e) => e.field)).toEqual([field]);
    if (field !== 'reply_to') expect(parsed.replyTo).toBe('list:response:c1');
    if (field !== 'correlation_id') expect(parsed.correlationId).toBe('c1');
  });
});

describe('payloadHead', () => {
  it('keeps the whole characters of a payload’s first KiB', () => {
    expect(payloadHead('short')).toBe('short');
    expect(payloadHead('x'.repeat(5_000))).toBe('x'.repeat(1_024));
    // 'x' then two-byte characters: the 1,024th byte is the first half of one, left out.
    expect(payloadHead(`x${'é'.repeat(5_000)}`)).toBe(`x${'é'.repeat(511)}`);
  });
});

describe('hasExpired', () => {
  const parsed = parseEntry(entry({ ...request, timeout: 2 }), LIMIT);
  const twoSeconds = parsed.ok ? parsed.request : undefined;
  const fireAndForget = { ...twoSeconds!, timeoutS: 0 };

  it('expires a request once its timeout has passed since the entry was added', () => {
    expect(hasExpired('1000-0', twoSeconds!, 2_999)).toBe(false);
    expect(hasExpired('1000-0', twoSeconds!, 3_001)).toBe(true);
  });

  it('never expires a fire-and-forget request', () => {
    expect(hasExpired('1000-0', fireAndForget, 1e12)).toBe(false);
  });
});

describe('confineReplyTo', () => {
  const PREFIX = 'list:response:';
  const confined = (body: unknown) =>
    confineReplyTo(parseEntry(entry(body), LIMIT), PREFIX, JSON.stringify(body));

  it('keeps a request whose reply list is under the prefix, or that has none', () => {
    expect(confined(request)).toMatchObject({ ok: true });
    expect(confined({ ...request, reply_to: undefined })).toMatchObject({ ok: true });
  });

  it('turns a reply_to outside the prefix into an invalid request answered nowhere', () => {
    const body = { ...request, reply_to: 'stream:requests' };
    expect(confined(body)).toEqual({
      ok: false,
      reason: 'invalid_request',
      errors: [{ field: 'reply_to', error: 'must start with "list:response:" (RPC_REPLY_PREFIX)' }],
      payload: JSON.stringify(body),
      correlationId: 'c1',
      replyTo: undefined,
    });
  });

  it('answers an invalid entry only on a reply list under the prefix', () => {
    expect(confined({ ...request, method: '' })).toMatchObject({
      ok: false,
      replyTo: 'list:response:c1',
    });
    expect(confined({ ...request, method: '', reply_to: 'chat:{room}:meta' })).toMatchObject({
      ok: false,
      replyTo: undefined,
    });
  });
});
