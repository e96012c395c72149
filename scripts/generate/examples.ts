import { ClientMessageType, frames, withPosition } from '../../src/protocol/chat.protocol';
import { ErrorCode } from '../../src/protocol/error-code';
import { eventFrames } from '../../src/protocol/event.protocol';
import {
  RpcError,
  RpcErrorCode,
  invalidParams,
  rpcFrames,
  rpcReplies,
} from '../../src/protocol/rpc.protocol';
import { SERVER_VERSION } from '../../src/server-version';

/*
 * Examples of the contract's messages. The server's frames are built by the server's own frame
 * builders, so a test that validates every example against its schema checks the builders and
 * the schemas against each other.
 */

const AT = new Date('2026-12-01T10:00:00.000Z');
const POSITION = { offset: 12, epoch: 'kT2x9QfA' };
const parsed = (frame: string): unknown => JSON.parse(frame);

/** Examples of client messages, by message type. */
export const CLIENT_EXAMPLES: Readonly<Record<string, readonly unknown[]>> = {
  [ClientMessageType.Join]: [
    { type: 'join', userId: 'alice', roomId: 'lobby' },
    { type: 'join', userId: 'alice', roomId: 'lobby', since: POSITION },
  ],
  [ClientMessageType.ChatMessage]: [
    { type: 'chat_message', userId: 'alice', content: 'Hello everyone!', messageId: 'm-1' },
  ],
  [ClientMessageType.SwitchRoom]: [{ type: 'switch_room', userId: 'alice', roomId: 'team:42' }],
  [ClientMessageType.Presence]: [{ type: 'presence', roomId: 'lobby' }],
  [ClientMessageType.History]: [{ type: 'history', roomId: 'lobby', limit: 50, before: 120 }],
  [ClientMessageType.Refresh]: [{ type: 'refresh', token: 'eyJhbGciOiJIUzI1NiJ9.e30.sig' }],
  rpc: [
    {
      type: 'rpc',
      method: 'join_room',
      params: { room: 'workspace:w1' },
      correlation_id: 'c-1',
    },
  ],
  bearer: ['Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig'],
};

/** Examples of server frames, by their definition's name. */
export const SERVER_EXAMPLES: Readonly<Record<string, readonly unknown[]>> = {
  ServerJoined: [
    frames.joined('alice', 'lobby', POSITION),
    frames.joined('alice', 'lobby', POSITION, true),
  ],
  ServerChatMessage: [
    parsed(
      withPosition(JSON.stringify(frames.chatMessage('alice', 'lobby', 'Hi', AT, 'm-1')), POSITION),
    ),
  ],
  ServerUserJoined: [
    parsed(withPosition(JSON.stringify(frames.userJoined('bob', 'lobby', AT)), POSITION)),
  ],
  ServerUserLeft: [
    parsed(withPosition(JSON.stringify(frames.userLeft('bob', 'lobby', AT)), POSITION)),
  ],
  ServerPresence: [
    frames.presence('lobby', [{ userId: 'alice', connections: 2, since: AT.toISOString() }], 1),
  ],
  ServerPresenceDiff: [frames.presenceDiff('town-hall', ['carol'], ['dave'], 1250)],
  ServerHistory: [
    parsed(
      frames.history('lobby', POSITION, [
        withPosition(JSON.stringify(frames.chatMessage('alice', 'lobby', 'Hi', AT)), POSITION),
      ]),
    ),
  ],
  ServerError: [
    frames.error(ErrorCode.InvalidMessage, 'userId must be a string'),
    frames.error(ErrorCode.Unavailable, 'the message could not be sent; retry', true),
  ],
  ServerAuth: [frames.auth(SERVER_VERSION, { userId: 'alice', expiresAt: 1796152939000 })],
  ServerRefreshed: [frames.refreshed(1796152939000)],
  ServerRpcResponse: [rpcFrames.response('c-1', { room: 'workspace:w1', ...POSITION })],
  ServerRpcError: [
    rpcFrames.error(
      'c-1',
      invalidParams('invalid params: room', [{ field: 'room', error: 'room must be a string' }]),
    ),
  ],
  ServerEvent: [
    parsed(
      withPosition(
        eventFrames.event(
          'workspace.file_changed',
          'workspace:w1',
          { workspace_id: 'w1', file_path: 'src/a.ts', event_type: 'modify' },
          AT,
        ),
        POSITION,
      ),
    ),
  ],
  ServerNotification: [
    parsed(
      eventFrames.notification(
        { title: 'Build', message: 'Build done', notification_type: 'success' },
        AT,
      ),
    ),
  ],
};

/** Examples of the backend bridge's request envelope and replies. */
export const BRIDGE_EXAMPLES = {
  request: [
    {
      type: 'rpc',
      method: 'notification.send',
      params: { user_id: '42', title: 'Hi', message: 'Build done', type: 'info' },
      correlation_id: '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f',
      reply_to: 'list:response:6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f',
      timeout: 30,
    },
  ],
  reply: [
    rpcReplies.success('6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', { delivered: 2 }),
    rpcReplies.failure(
      '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f',
      new RpcError(RpcErrorCode.UserNotConnected, 'nobody is connected as that user'),
    ),
  ],
};
