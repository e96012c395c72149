import { ServerMessageType } from '../../src/protocol/chat.protocol';
import { EventMessageType } from '../../src/protocol/event.protocol';
import type { Frame } from './frames';

/**
 * A frame as a line for people, the way the terminal client prints it: live, replayed after a
 * reconnect, or read back through `history`, a message looks the same.
 */
export function describeFrame(frame: Frame): string {
  const time = clock(typeof frame.timestamp === 'string' ? new Date(frame.timestamp) : new Date());
  switch (frame.type) {
    case ServerMessageType.ChatMessage:
      return `${time} [${text(frame.roomId)}] ${text(frame.userId)}: ${text(frame.content)}`;
    case ServerMessageType.Joined:
    case ServerMessageType.UserJoined:
    case ServerMessageType.UserLeft:
      return `${time} * ${text(frame.message)}`;
    case ServerMessageType.Error:
      return `${time} ! error (${text(frame.code)}): ${text(frame.message)}`;
    case ServerMessageType.Presence:
      return `${time} * in ${text(frame.roomId)}: ${describeUsers(frame.users)}`;
    case ServerMessageType.Auth:
      return `${time} * authenticated${frame.userId === undefined ? '' : ` as ${text(frame.userId)}`}`;
    case ServerMessageType.Refreshed:
      return `${time} * token refreshed`;
    case EventMessageType.Event:
      return `${time} [${text(frame.roomId)}] event ${text(frame.event)}: ${text(frame.data)}`;
    case EventMessageType.Notification: {
      const data = (frame.data ?? {}) as Record<string, unknown>;
      return `${time} ! ${text(data.notification_type)}: ${text(data.title)}: ${text(data.message)}`;
    }
    default:
      return `${time} ? ${clean(JSON.stringify(frame))}`;
  }
}

/** `alice, bob (2 connections)`: the users of a presence frame. */
function describeUsers(users: unknown): string {
  if (!Array.isArray(users)) return text(users);
  if (users.length === 0) return 'nobody';
  return users
    .map((user: { userId?: unknown; connections?: unknown }) => {
      const many = typeof user.connections === 'number' && user.connections > 1;
      return `${text(user.userId)}${many ? ` (${String(user.connections)} connections)` : ''}`;
    })
    .join(', ');
}

/** `HH:MM:SS` of `date` in local time; now, if `date` is invalid. */
export function clock(date: Date = new Date()): string {
  const at = Number.isNaN(date.getTime()) ? new Date() : date;
  return [at.getHours(), at.getMinutes(), at.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
}

/** Any field of a frame as clean text. */
export function text(value: unknown): string {
  return clean(typeof value === 'string' ? value : JSON.stringify(value));
}

/**
 * Content comes from other people: control characters (escape sequences could move the cursor,
 * retitle or garble the terminal) are shown as `�`; line breaks are kept, indented.
 */
export function clean(value: string): string {
  return value
    .replace(/\r?\n/g, '\n    ')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd'); // eslint-disable-line no-control-regex
}
