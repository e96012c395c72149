import type { IncomingMessage } from 'node:http';

/** The subprotocol a browser offers before its token (`Sec-WebSocket-Protocol: bearer, <jwt>`). */
export const BEARER_SUBPROTOCOL = 'bearer';

/** Longer credentials are refused unread: real tokens are far smaller, and parsing costs. */
export const MAX_TOKEN_LENGTH = 8192;

export type HandshakeTokenSource = 'authorization' | 'subprotocol' | 'query';

/**
 * What the upgrade request carries:
 * - `absent`: no credential at all; the socket opens and must authenticate by its first frame;
 * - `present`: a token to verify (a failure answers HTTP 401). From the subprotocol source, the
 *   upgrade must select `protocol`;
 * - `invalid`: a credential in a recognised place that cannot be a token (`Bearer` with no or
 *   two values, `bearer` as the last subprotocol, an empty or repeated `?token=`): HTTP 401 too.
 */
export type HandshakeToken =
  | { kind: 'absent' }
  | { kind: 'present'; token: string; source: HandshakeTokenSource; protocol?: string }
  | { kind: 'invalid'; source: HandshakeTokenSource };

export interface HandshakeTokenOptions {
  /** AUTH_QUERY_TOKEN: read `?token=`; otherwise the parameter is ignored. */
  queryToken: boolean;
}

/**
 * The token of an upgrade request, looked for in this order: `Authorization: Bearer <jwt>`,
 * `Sec-WebSocket-Protocol: bearer, <jwt>`, then `?token=` when enabled. The first place that
 * holds a credential decides; an `Authorization` header of another scheme (Basic, from a proxy)
 * is not ours and is passed over.
 */
export function handshakeToken(
  request: Pick<IncomingMessage, 'headers' | 'url'>,
  options: HandshakeTokenOptions,
): HandshakeToken {
  const authorization = request.headers.authorization;
  if (authorization !== undefined && /^\s*bearer(\s|$)/i.test(authorization)) {
    return found(parseBearer(authorization), 'authorization');
  }
  const offered = request.headers['sec-websocket-protocol'];
  if (offered !== undefined) {
    const protocols = (Array.isArray(offered) ? offered.join(',') : offered)
      .split(',')
      .map((protocol) => protocol.trim());
    const at = protocols.indexOf(BEARER_SUBPROTOCOL);
    if (at !== -1) {
      const token = tokenOrUndefined(protocols[at + 1]);
      return token === undefined
        ? { kind: 'invalid', source: 'subprotocol' }
        : { kind: 'present', token, source: 'subprotocol', protocol: BEARER_SUBPROTOCOL };
    }
  }
  if (options.queryToken) {
    const values = new URL(request.url ?? '/', 'http://localhost').searchParams.getAll('token');
    if (values.length > 0) return found(values.length === 1 ? values[0] : undefined, 'query');
  }
  return { kind: 'absent' };
}

/**
 * The subprotocol to answer an upgrade with: `bearer` when offered (never the token that follows
 * it, which would echo the credential), otherwise what `ws` picks by default, the first offered.
 */
export function selectSubprotocol(offered: ReadonlySet<string>): string | false {
  if (offered.has(BEARER_SUBPROTOCOL)) return BEARER_SUBPROTOCOL;
  const [first] = offered;
  return first ?? false;
}

/**
 * The token of seed 003's first frame, the text `Bearer <jwt>` (scheme in any case, exactly two
 * parts); undefined for any other text.
 */
export function firstFrameToken(text: string): string | undefined {
  return parseBearer(text);
}

/** `Bearer <token>` with the scheme in any case and exactly two space-separated parts. */
export function parseBearer(value: string): string | undefined {
  if (value.length > MAX_TOKEN_LENGTH + 16) return undefined;
  const parts = value.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0].toLowerCase() !== 'bearer') return undefined;
  return tokenOrUndefined(parts[1]);
}

function tokenOrUndefined(token: string | undefined): string | undefined {
  return token && token.length <= MAX_TOKEN_LENGTH ? token : undefined;
}

function found(token: string | undefined, source: HandshakeTokenSource): HandshakeToken {
  const usable = tokenOrUndefined(token);
  return usable === undefined
    ? { kind: 'invalid', source }
    : { kind: 'present', token: usable, source };
}
