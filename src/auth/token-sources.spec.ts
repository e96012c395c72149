import type { IncomingHttpHeaders } from 'node:http';
import {
  firstFrameToken,
  handshakeToken,
  HandshakeToken,
  MAX_TOKEN_LENGTH,
  selectSubprotocol,
} from './token-sources';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
const OTHER = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl';

function fromRequest(
  headers: IncomingHttpHeaders,
  url = '/ws',
  queryToken = false,
): HandshakeToken {
  return handshakeToken({ headers, url }, { queryToken });
}

describe('handshakeToken', () => {
  it('is absent when the request carries no credential', () => {
    expect(fromRequest({})).toEqual({ kind: 'absent' });
    expect(fromRequest({ 'sec-websocket-protocol': 'chat' })).toEqual({ kind: 'absent' });
  });

  it.each(['Bearer', 'bearer', 'BEARER'])('reads Authorization: %s <jwt>', (scheme) => {
    expect(fromRequest({ authorization: `${scheme} ${JWT}` })).toEqual({
      kind: 'present',
      token: JWT,
      source: 'authorization',
    });
  });

  it.each([
    ['no token', 'Bearer'],
    ['an empty token', 'Bearer   '],
    ['three parts', `Bearer ${JWT} extra`],
    ['an oversized token', `Bearer ${'a'.repeat(MAX_TOKEN_LENGTH + 1)}`],
  ])('finds Authorization: Bearer with %s invalid', (_what, authorization) => {
    expect(fromRequest({ authorization })).toEqual({ kind: 'invalid', source: 'authorization' });
  });

  it('passes over an Authorization header of another scheme', () => {
    expect(fromRequest({ authorization: 'Basic dXNlcjpwYXNz' })).toEqual({ kind: 'absent' });
    expect(
      fromRequest({
        authorization: 'Basic dXNlcjpwYXNz',
        'sec-websocket-protocol': `bearer, ${JWT}`,
      }),
    ).toMatchObject({ kind: 'present', source: 'subprotocol' });
  });

  it('reads Sec-WebSocket-Protocol: bearer, <jwt> and names bearer as the protocol to select', () => {
    expect(fromRequest({ 'sec-websocket-protocol': `bearer, ${JWT}` })).toEqual({
      kind: 'present',
      token: JWT,
      source: 'subprotocol',
      protocol: 'bearer',
    });
    expect(fromRequest({ 'sec-websocket-protocol': `chat,bearer,${JWT}` })).toMatchObject({
      token: JWT,
    });
  });

  it('finds bearer as the last subprotocol, with no token after it, invalid', () => {
    expect(fromRequest({ 'sec-websocket-protocol': 'chat, bearer' })).toEqual({
      kind: 'invalid',
      source: 'subprotocol',
    });
  });

  it('prefers the Authorization header to the subprotocol, and that to the query', () => {
    const both = { authorization: `Bearer ${JWT}`, 'sec-websocket-protocol': `bearer, ${OTHER}` };
    expect(fromRequest(both, `/ws?token=${OTHER}`, true)).toMatchObject({ token: JWT });
    expect(
      fromRequest({ 'sec-websocket-protocol': `bearer, ${JWT}` }, `/ws?token=${OTHER}`, true),
    ).toMatchObject({ token: JWT, source: 'subprotocol' });
  });

  it('reads ?token= only with AUTH_QUERY_TOKEN', () => {
    expect(fromRequest({}, `/ws?token=${JWT}`, true)).toEqual({
      kind: 'present',
      token: JWT,
      source: 'query',
    });
    expect(fromRequest({}, `/?userId=alice&token=${JWT}`, true)).toMatchObject({ token: JWT });
    expect(fromRequest({}, `/ws?token=${JWT}`, false)).toEqual({ kind: 'absent' });
  });

  it('finds an empty or repeated ?token= invalid', () => {
    expect(fromRequest({}, '/ws?token=', true)).toEqual({ kind: 'invalid', source: 'query' });
    expect(fromRequest({}, `/ws?token=${JWT}&token=${OTHER}`, true)).toEqual({
      kind: 'invalid',
      source: 'query',
    });
  });
});

describe('selectSubprotocol', () => {
  it('selects bearer when offered, never the token after it', () => {
    expect(selectSubprotocol(new Set(['bearer', JWT]))).toBe('bearer');
    expect(selectSubprotocol(new Set(['chat', 'bearer', JWT]))).toBe('bearer');
  });

  it("keeps ws's default otherwise: the first offered, or none", () => {
    expect(selectSubprotocol(new Set(['chat', 'v2']))).toBe('chat');
    expect(selectSubprotocol(new Set())).toBe(false);
  });
});

describe('firstFrameToken', () => {
  it.each([`Bearer ${JWT}`, `bearer ${JWT}`, `BeArEr ${JWT}`, ` Bearer  ${JWT}\n`])(
    'reads %j',
    (text) => {
      expect(firstFrameToken(text)).toBe(JWT);
    },
  );

  it.each([
    ['a JSON frame', JSON.stringify({ type: 'join', userId: 'alice' })],
    ['the bare token', JWT],
    ['another scheme', `Token ${JWT}`],
    ['three parts', `Bearer ${JWT} ${JWT}`],
    ['the scheme alone', 'Bearer'],
    ['an empty frame', ''],
    ['an oversized token', `Bearer ${'a'.repeat(MAX_TOKEN_LENGTH + 1)}`],
  ])('refuses %s', (_what, text) => {
    expect(firstFrameToken(text)).toBeUndefined();
  });
});
