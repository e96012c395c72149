import type { IncomingMessage } from 'node:http';

/**
 * The address a connection is counted and logged under. Proxy headers are client-settable, so they
 * are read only when the operator says a trusted proxy (Fly's) sets them: `Fly-Client-IP` first,
 * then the first `X-Forwarded-For` entry.
 */
export function clientIp(request: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const fly = headerValue(request.headers['fly-client-ip']);
    if (fly) return fly;
    const forwarded = headerValue(request.headers['x-forwarded-for'])?.split(',')[0]?.trim();
    if (forwarded) return forwarded;
  }
  return request.socket.remoteAddress ?? 'unknown';
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first?.trim() || undefined;
}
