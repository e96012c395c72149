import type { RawData } from 'ws';

/** A frame as a client sees it: whatever JSON object the server sent. */
export type Frame = Record<string, unknown>;

export function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.isBuffer(data) ? data.toString() : Buffer.from(data).toString();
}

/** The frame a text message carries, or undefined when it is not a JSON object. */
export function parseFrame(text: string): Frame | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `ws://` → `http://`, `wss://` → `https://`, at path `/`: where the server answers health checks. */
export function healthUrlOf(wsUrl: string): string {
  const url = new URL(wsUrl);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new TypeError(`not a ws:// or wss:// URL: ${wsUrl}`);
  }
  return `${url.protocol === 'wss:' ? 'https:' : 'http:'}//${url.host}/`;
}
