import type {
  AuthFrame,
  ChatMessageFrame,
  ErrorFrame,
  HistoryFrame,
  JoinedFrame,
  PresenceDiffFrame,
  PresenceFrame,
  PresenceUser,
  RefreshMessage,
  RefreshedFrame,
  StreamPositionFields,
  UserJoinedFrame,
  UserLeftFrame,
} from './chat.protocol';
import { ErrorCode } from './error-code';
import { ID_PATTERN, ID_PATTERN_TEXT } from './ids';
import { JsonSchema, enumSchema, objectSchema, ref } from './json-schema';

/*
 * The schemas of the chat frames that have no DTO (the server's frames, `refresh`), as tables of
 * their interfaces: the compiler keeps each table and its interface equal, field for field.
 */

const ID: JsonSchema = { type: 'string', pattern: ID_PATTERN.source, description: ID_PATTERN_TEXT };
const TIMESTAMP: JsonSchema = { type: 'string', format: 'date-time', description: 'ISO-8601' };
const OFFSET: JsonSchema = { type: 'integer', minimum: 0 };
const EPOCH: JsonSchema = { type: 'string', maxLength: 64 };
const positioned = {
  offset: { ...OFFSET, optional: true, description: 'Position in the room’s stream.' },
  epoch: { ...EPOCH, optional: true, description: 'The stream the offset counts in.' },
} as const;

export const CHAT_SCHEMAS = {
  ChatId: ID,
  ErrorCode: enumSchema('Code of a `{type:"error"}` frame; never renamed.', ErrorCode),
  StreamPosition: objectSchema<StreamPositionFields>(
    'A position in a room’s stream, sent back as `since` to recover what came after it.',
    { offset: OFFSET, epoch: EPOCH },
  ),
  PresenceUser: objectSchema<PresenceUser>('One user in a room, cluster-wide.', {
    userId: ID,
    connections: { type: 'integer', minimum: 1 },
    since: TIMESTAMP,
  }),
  ClientRefresh: objectSchema<RefreshMessage>('A new token for the connection (AUTH_MODE=jwt).', {
    type: { const: 'refresh' },
    token: { type: 'string', minLength: 1 },
  }),
  ClientBearer: {
    type: 'string',
    pattern: '^[Bb][Ee][Aa][Rr][Ee][Rr] .+$',
    description:
      'First text frame of a connection without a token at the handshake (AUTH_MODE=jwt).',
  },
  ServerJoined: objectSchema<JoinedFrame>('The connection joined the room.', {
    type: { const: 'joined' },
    roomId: ID,
    userId: ID,
    message: { type: 'string' },
    epoch: EPOCH,
    offset: OFFSET,
    recovered: { type: 'boolean', optional: true },
  }),
  ServerChatMessage: objectSchema<ChatMessageFrame>('A chat message, broadcast to the room.', {
    type: { const: 'chat_message' },
    userId: ID,
    roomId: ID,
    content: { type: 'string' },
    timestamp: TIMESTAMP,
    messageId: { ...ID, optional: true },
    ...positioned,
  }),
  ServerUserJoined: objectSchema<UserJoinedFrame>('A user joined the room.', {
    type: { const: 'user_joined' },
    userId: ID,
    roomId: ID,
    message: { type: 'string' },
    timestamp: { ...TIMESTAMP, optional: true },
    ...positioned,
  }),
  ServerUserLeft: objectSchema<UserLeftFrame>('A user left the room.', {
    type: { const: 'user_left' },
    userId: ID,
    roomId: ID,
    message: { type: 'string' },
    timestamp: { ...TIMESTAMP, optional: true },
    ...positioned,
  }),
  ServerPresence: objectSchema<PresenceFrame>('Who is in the room, cluster-wide.', {
    type: { const: 'presence' },
    roomId: ID,
    users: { type: 'array', items: ref('PresenceUser') },
    count: { type: 'integer', minimum: 0 },
    truncated: { type: 'boolean' },
  }),
  ServerPresenceDiff: objectSchema<PresenceDiffFrame>('Joins and leaves of a large room.', {
    type: { const: 'presence_diff' },
    roomId: ID,
    joined: { type: 'array', items: ID },
    left: { type: 'array', items: ID },
    count: { type: 'integer', minimum: 0 },
    truncated: { const: true, optional: true },
  }),
  ServerHistory: objectSchema<HistoryFrame>('A page of the room’s retained frames, oldest first.', {
    type: { const: 'history' },
    roomId: ID,
    epoch: EPOCH,
    offset: OFFSET,
    messages: { type: 'array', items: { type: 'object' } },
    truncated: { const: true, optional: true },
  }),
  ServerError: objectSchema<ErrorFrame>('A message was refused; the connection stays open.', {
    type: { const: 'error' },
    message: { type: 'string' },
    code: ref('ErrorCode'),
    retryable: { const: true, optional: true },
  }),
  ServerAuth: objectSchema<AuthFrame>('The connection is authenticated.', {
    type: { const: 'auth' },
    status: { const: 'ok' },
    userId: { ...ID, optional: true },
    expiresAt: { type: 'integer', optional: true, description: 'ms since the epoch' },
    server_version: { type: 'string' },
  }),
  ServerRefreshed: objectSchema<RefreshedFrame>('The new token of a `refresh` is in force.', {
    type: { const: 'refreshed' },
    expiresAt: { type: 'integer', description: 'ms since the epoch' },
  }),
} satisfies Record<string, JsonSchema>;
