import type { PresenceUser } from '../protocol/chat.protocol';
import { JsonSchema, objectSchema, ref } from '../protocol/json-schema';

/*
 * What the event platform's methods answer, and their schemas as tables of these interfaces:
 * the handlers return these types, so the server and the contract cannot disagree on a field.
 */

/** Where a room event landed: its room and position. */
export interface Published {
  room: string;
  offset: number;
  epoch: string;
}

export interface Delivered {
  /** The user's connections, cluster-wide (0 is a result, not an error). */
  delivered: number;
}

export interface Broadcast {
  broadcast: true;
}

export interface Disconnected {
  disconnected: number;
}

export interface Followed extends Published {
  /** Only with `since`: whether the missed frames were replayed before the answer. */
  recovered?: boolean;
}

export interface Left {
  left: boolean;
}

export interface RoomPresence {
  room: string;
  users: PresenceUser[];
  count: number;
  truncated: boolean;
}

export interface RoomHistory extends Published {
  messages: unknown[];
  truncated?: true;
}

export interface RoomList {
  rooms: string[];
}

const ROOM: JsonSchema = ref('ChatId');
const OFFSET: JsonSchema = { type: 'integer', minimum: 0 };
const EPOCH: JsonSchema = { type: 'string' };
const COUNT: JsonSchema = { type: 'integer', minimum: 0 };

export const RESULT_SCHEMAS = {
  published: objectSchema<Published>('Where the event landed.', {
    room: ROOM,
    offset: OFFSET,
    epoch: EPOCH,
  }),
  delivered: objectSchema<Delivered>('How many connections the user holds.', {
    delivered: COUNT,
  }),
  broadcast: objectSchema<Broadcast>('The notification went out.', {
    broadcast: { const: true },
  }),
  disconnected: objectSchema<Disconnected>('How many connections were closed.', {
    disconnected: COUNT,
  }),
  followed: objectSchema<Followed>('Where the connection entered the room.', {
    room: ROOM,
    offset: OFFSET,
    epoch: EPOCH,
    recovered: { type: 'boolean', optional: true },
  }),
  left: objectSchema<Left>('Whether the connection followed the room.', {
    left: { type: 'boolean' },
  }),
  presence: objectSchema<RoomPresence>('Who is in the room, cluster-wide.', {
    room: ROOM,
    users: { type: 'array', items: ref('PresenceUser') },
    count: COUNT,
    truncated: { type: 'boolean' },
  }),
  history: objectSchema<RoomHistory>('The room’s retained frames, oldest first.', {
    room: ROOM,
    offset: OFFSET,
    epoch: EPOCH,
    messages: { type: 'array', items: { type: 'object' } },
    truncated: { const: true, optional: true },
  }),
  rooms: objectSchema<RoomList>('The chat room, then the followed rooms.', {
    rooms: { type: 'array', items: ROOM },
  }),
} satisfies Record<string, JsonSchema>;
