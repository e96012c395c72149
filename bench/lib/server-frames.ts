import { ServerMessageType } from '../../src/protocol/chat.protocol';
import { isRecord } from './ipc';

/** The kinds of server frame the load generator tells apart. */
export type FrameKind = 'chat' | 'joined' | 'error' | 'other';

/**
 * Both servers put `type` first (`{"type":"chat_message",...}`), so a frame is classified by
 * comparing its first bytes, without parsing it: the generator reads up to 200k frames per second
 * on one core. Anything else falls back to JSON.parse.
 */
const PREFIXES: ReadonlyArray<[Buffer, FrameKind]> = [
  [Buffer.from(`{"type":"${ServerMessageType.ChatMessage}"`), 'chat'],
  [Buffer.from(`{"type":"${ServerMessageType.Joined}"`), 'joined'],
  [Buffer.from(`{"type":"${ServerMessageType.Error}"`), 'error'],
  [Buffer.from(`{"type":"${ServerMessageType.UserJoined}"`), 'other'],
  [Buffer.from(`{"type":"${ServerMessageType.UserLeft}"`), 'other'],
];

export function frameKind(buffer: Buffer, start: number, end: number): FrameKind {
  for (const [prefix, kind] of PREFIXES) {
    if (
      end - start >= prefix.length &&
      buffer.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0
    ) {
      return kind;
    }
  }
  return kindOfParsed(parseFrame(buffer, start, end));
}

export function parseFrame(buffer: Buffer, start: number, end: number): unknown {
  try {
    return JSON.parse(buffer.toString('utf8', start, end));
  } catch {
    return undefined;
  }
}

function kindOfParsed(frame: unknown): FrameKind {
  if (!isRecord(frame)) return 'other';
  if (frame.type === ServerMessageType.ChatMessage) return 'chat';
  if (frame.type === ServerMessageType.Joined) return 'joined';
  if (frame.type === ServerMessageType.Error) return 'error';
  return 'other';
}

/** The `content` of a chat frame, or undefined. */
export function chatContent(buffer: Buffer, start: number, end: number): string | undefined {
  const frame = parseFrame(buffer, start, end);
  return isRecord(frame) && typeof frame.content === 'string' ? frame.content : undefined;
}

/** Short text of an error frame for the report (code and message, never more than a line). */
export function errorText(buffer: Buffer, start: number, end: number): string {
  const frame = parseFrame(buffer, start, end);
  if (isRecord(frame) && typeof frame.code === 'string') return `error frame: ${frame.code}`;
  return `error frame: ${buffer.toString('utf8', start, Math.min(end, start + 120))}`;
}
