import { ErrorCode } from './error-code';
import type { RpcErrorFrame, RpcResponseFrame } from './rpc.protocol';

/**
 * The wire contract: flat JSON objects with a `type` field, as existing PixIDE clients speak it.
 * Add new types here; never change the shape of an existing one.
 */
export const ClientMessageType = {
  Join: 'join',
  ChatMessage: 'chat_message',
  SwitchRoom: 'switch_room',
  Presence: 'presence',
  /** `{type:"history", roomId?, limit?, before?}`: a room's retained publications. */
  History: 'history',
  /** `{type:"refresh", token}` under AUTH_MODE=jwt: handled by the transport on every path. */
  Refresh: 'refresh',
} as const;
export type ClientMessageType = (typeof ClientMessageType)[keyof typeof ClientMessageType];

/** `{type:"refresh", token}`: a new token for the connection (AUTH_MODE=jwt). */
export interface RefreshMessage {
  type: typeof ClientMessageType.Refresh;
  token: string;
}

export const ServerMessageType = {
  Joined: 'joined',
  ChatMessage: 'chat_message',
  UserJoined: 'user_joined',
  UserLeft: 'user_left',
  Presence: 'presence',
  PresenceDiff: 'presence_diff',
  History: 'history',
  Error: 'error',
  Auth: 'auth',
  Refreshed: 'refreshed',
} as const;

/**
 * Where a frame stands in its room's stream: `offset` increases by one per publication in the room,
 * `epoch` names the stream (offsets of two epochs never compare). Frames delivered while the shared
 * broker was unreachable (degraded) carry neither: they were never in the stream.
 */
export interface Positioned {
  offset?: number;
  epoch?: string;
}

export interface JoinedFrame {
  type: typeof ServerMessageType.Joined;
  roomId: string;
  userId: string;
  message: string;
  /** The room's stream: everything after `offset` reaches the joiner after this frame. */
  epoch: string;
  offset: number;
  /** Only when the join asked for recovery (`since`): whether the missed frames were replayed. */
  recovered?: boolean;
}

/** A position a client saw, sent back in `join` / `switch_room` as `since` to recover from it. */
export interface StreamPositionFields {
  offset: number;
  epoch: string;
}

export interface ChatMessageFrame extends Positioned {
  type: typeof ServerMessageType.ChatMessage;
  userId: string;
  roomId: string;
  content: string;
  /** ISO-8601, from the server's clock. */
  timestamp: string;
  /** The sender's id of the message, when it gave one: a resend of it is not broadcast again. */
  messageId?: string;
}

export interface UserJoinedFrame extends Positioned {
  type: typeof ServerMessageType.UserJoined;
  userId: string;
  roomId: string;
  message: string;
  /** ISO-8601: when the user joined, the same for every member and in history. */
  timestamp?: string;
}

export interface UserLeftFrame extends Positioned {
  type: typeof ServerMessageType.UserLeft;
  userId: string;
  roomId: string;
  message: string;
  /** ISO-8601: when the user left, the same for every member and in history. */
  timestamp?: string;
}

export interface PresenceUser {
  userId: string;
  /** The user's connections in the room, across all instances. */
  connections: number;
  /** ISO-8601: when the user's first current connection entered the room. */
  since: string;
}

/**
 * Answer to `{type:"presence", roomId?}`: who is in the room, cluster-wide, at most
 * PRESENCE_MAX_USERS of them (the oldest first).
 */
export interface PresenceFrame {
  type: typeof ServerMessageType.Presence;
  roomId: string;
  users: PresenceUser[];
  /** Users in the room, listed or not. */
  count: number;
  /** True when `users` leaves some of them out. */
  truncated: boolean;
}

/**
 * Joins and leaves of a large room (more than JOIN_LEAVE_MAX_MEMBERS members) since the previous
 * diff, at most one per PRESENCE_DIFF_INTERVAL_MS, instead of `user_joined` / `user_left` each. A
 * user who joined and left within one interval is in neither list.
 */
export interface PresenceDiffFrame {
  type: typeof ServerMessageType.PresenceDiff;
  roomId: string;
  joined: string[];
  left: string[];
  /** Users in the room after these changes, cluster-wide. */
  count: number;
  /** Present (true) when `joined` or `left` was cut to PRESENCE_DIFF_MAX_USERS names. */
  truncated?: true;
}

/**
 * Answer to `{type:"history", roomId?, limit?, before?}`: at most `limit` of the room's retained
 * frames, oldest first, with offsets below `before` (default: up to the newest), each as it was
 * broadcast (with its offset and epoch); `offset` and `epoch` are the room's current position.
 */
export interface HistoryFrame {
  type: typeof ServerMessageType.History;
  roomId: string;
  epoch: string;
  offset: number;
  messages: unknown[];
  /**
   * Present (true) when older frames of the page were left out to keep the answer within
   * HISTORY_MAX_ANSWER_BYTES: the next page is asked with `before` the first message's offset.
   */
  truncated?: true;
}

export interface ErrorFrame {
  type: typeof ServerMessageType.Error;
  message: string;
  code: ErrorCode;
  /** Present (true) when sending the same message again may succeed. */
  retryable?: true;
}

/**
 * The connection is authenticated (seed 003's answer to its `Bearer <jwt>` first frame). `userId`
 * and `expiresAt` (the token's `exp`, in milliseconds since the epoch) are absent with AUTH_MODE=none.
 */
export interface AuthFrame {
  type: typeof ServerMessageType.Auth;
  status: 'ok';
  userId?: string;
  expiresAt?: number;
  server_version: string;
}

/** Answer to a valid `refresh`: the connection now lives until the new token's `exp` (ms since the epoch). */
export interface RefreshedFrame {
  type: typeof ServerMessageType.Refreshed;
  expiresAt: number;
}

/** Frames broadcast to every member of a room. */
export type RoomFrame = ChatMessageFrame | UserJoinedFrame | UserLeftFrame | PresenceDiffFrame;
export type ServerFrame =
  | JoinedFrame
  | RoomFrame
  | PresenceFrame
  | HistoryFrame
  | ErrorFrame
  | AuthFrame
  | RefreshedFrame
  | RpcResponseFrame
  | RpcErrorFrame;

export const frames = {
  joined: (
    userId: string,
    roomId: string,
    position: StreamPositionFields,
    recovered?: boolean,
  ): JoinedFrame => ({
    type: ServerMessageType.Joined,
    roomId,
    userId,
    message: `Joined room: ${roomId}`,
    epoch: position.epoch,
    offset: position.offset,
    ...(recovered !== undefined && { recovered }),
  }),
  userJoined: (userId: string, roomId: string, at?: Date): UserJoinedFrame => ({
    type: ServerMessageType.UserJoined,
    userId,
    roomId,
    message: `${userId} joined the room`,
    ...(at && { timestamp: at.toISOString() }),
  }),
  userLeft: (userId: string, roomId: string, at?: Date): UserLeftFrame => ({
    type: ServerMessageType.UserLeft,
    userId,
    roomId,
    message: `${userId} left the room`,
    ...(at && { timestamp: at.toISOString() }),
  }),
  chatMessage: (
    userId: string,
    roomId: string,
    content: string,
    at: Date,
    messageId?: string,
  ): ChatMessageFrame => ({
    type: ServerMessageType.ChatMessage,
    userId,
    roomId,
    content,
    timestamp: at.toISOString(),
    ...(messageId !== undefined && { messageId }),
  }),
  presence: (roomId: string, users: PresenceUser[], count: number): PresenceFrame => ({
    type: ServerMessageType.Presence,
    roomId,
    users,
    count,
    truncated: users.length < count,
  }),
  presenceDiff: (
    roomId: string,
    joined: string[],
    left: string[],
    count: number,
    truncated = false,
  ): PresenceDiffFrame => ({
    type: ServerMessageType.PresenceDiff,
    roomId,
    joined,
    left,
    count,
    ...(truncated && { truncated: true as const }),
  }),
  /** `messages` are serialized frames (JSON text): spliced in as they are, not parsed again. */
  history: (
    roomId: string,
    position: StreamPositionFields,
    messages: readonly string[],
    truncated = false,
  ): string =>
    `{"type":"history","roomId":${JSON.stringify(roomId)},"epoch":${JSON.stringify(position.epoch)},` +
    `"offset":${position.offset},"messages":[${messages.join(',')}]` +
    `${truncated ? ',"truncated":true' : ''}}`,
  /** `identity` is undefined with AUTH_MODE=none; then the frame carries neither field. */
  auth: (serverVersion: string, identity?: { userId: string; expiresAt?: number }): AuthFrame => ({
    type: ServerMessageType.Auth,
    status: 'ok',
    ...(identity && { userId: identity.userId }),
    ...(identity?.expiresAt !== undefined && { expiresAt: identity.expiresAt }),
    server_version: serverVersion,
  }),
  refreshed: (expiresAt: number): RefreshedFrame => ({
    type: ServerMessageType.Refreshed,
    expiresAt,
  }),
  error: (code: ErrorCode, message: string, retryable = false): ErrorFrame => ({
    type: ServerMessageType.Error,
    message,
    code,
    ...(retryable ? { retryable: true as const } : {}),
  }),
};

/**
 * Appends `offset` and `epoch` to a serialized frame object (`{…}`) without parsing it again: a
 * room frame is serialized once by its publisher and positioned once per delivery.
 */
export function withPosition(frame: string, position: StreamPositionFields): string {
  return `${frame.slice(0, -1)},"offset":${position.offset},"epoch":${JSON.stringify(position.epoch)}}`;
}
