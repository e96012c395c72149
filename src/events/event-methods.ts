import { Injectable } from '@nestjs/common';
import { ChatError } from '../protocol/chat-error';
import type { PresenceFrame } from '../protocol/chat.protocol';
import {
  RoomMethod,
  RpcError,
  RpcErrorCode,
  invalidParams,
  rpcErrorOf,
} from '../protocol/rpc.protocol';
import { RoomsService } from '../rooms/rooms.service';
import type { RpcCaller } from '../rpc/rpc-dispatcher';
import { RpcMethod } from '../rpc/rpc-method.decorator';
import type { Session } from '../transport/session';
import {
  BroadcastParams,
  DisconnectParams,
  HistoryParams,
  JoinRoomParams,
  NoParams,
  NotificationParams,
  RoomParams,
} from './dto/platform.dto';
import { ContextUpdatedParams, SessionMessageParams, TaskStatusParams } from './dto/session.dto';
import { FileChangedParams, SnapshotCreatedParams, StateChangedParams } from './dto/workspace.dto';
import { EventsService } from './events.service';
import {
  Broadcast,
  Delivered,
  Disconnected,
  Followed,
  Left,
  Published,
  RESULT_SCHEMAS,
  RoomHistory,
  RoomList,
  RoomPresence,
} from './event-results';

const workspaceRoom = (p: { workspace_id: string }): string => `workspace:${p.workspace_id}`;
const sessionRoom = (p: { session_id: string }): string => `session:${p.session_id}`;

/**
 * Seed 003's methods, with its parameter names (snake_case, as Django sends them). Room events
 * are broadcast as `{type:"event", event:"<method>", roomId, offset, epoch, timestamp, data}`;
 * the registry has validated the params and checked the caller's permission before these run.
 */
@Injectable()
export class EventMethods {
  constructor(
    private readonly events: EventsService,
    private readonly roomsService: RoomsService,
  ) {}

  @RpcMethod({
    name: 'workspace.file_changed',
    params: FileChangedParams,
    permission: 'publish',
    room: workspaceRoom,
    description: 'A file of a workspace was created, modified, deleted or renamed.',
    result: RESULT_SCHEMAS.published,
    event: true,
    example: {
      params: { workspace_id: 'w1', file_path: 'src/app.ts', event_type: 'modify' },
      result: { room: 'workspace:w1', offset: 12, epoch: 'kT2x9QfA' },
    },
  })
  fileChanged(params: FileChangedParams, caller: RpcCaller): Promise<Published> {
    return this.event('workspace.file_changed', workspaceRoom(params), params, caller);
  }

  @RpcMethod({
    name: 'workspace.snapshot_created',
    params: SnapshotCreatedParams,
    permission: 'publish',
    room: workspaceRoom,
    description: 'A snapshot of a workspace was taken.',
    result: RESULT_SCHEMAS.published,
    event: true,
    example: {
      params: { workspace_id: 'w1', snapshot_id: 's1', name: 'before refactor' },
      result: { room: 'workspace:w1', offset: 12, epoch: 'kT2x9QfA' },
    },
  })
  snapshotCreated(params: SnapshotCreatedParams, caller: RpcCaller): Promise<Published> {
    return this.event('workspace.snapshot_created', workspaceRoom(params), params, caller);
  }

  @RpcMethod({
    name: 'workspace.state_changed',
    params: StateChangedParams,
    permission: 'publish',
    room: workspaceRoom,
    description: 'A workspace changed state (starting, running, stopped…).',
    result: RESULT_SCHEMAS.published,
    event: true,
    example: {
      params: { workspace_id: 'w1', state: 'running' },
      result: { room: 'workspace:w1', offset: 12, epoch: 'kT2x9QfA' },
    },
  })
  stateChanged(params: StateChangedParams, caller: RpcCaller): Promise<Published> {
    return this.event('workspace.state_changed', workspaceRoom(params), params, caller);
  }

  @RpcMethod({
    name: 'session.message',
    params: SessionMessageParams,
    permission: 'publish',
    room: sessionRoom,
    description: 'A message of an AI session, or one chunk of a streamed one.',
    result: RESULT_SCHEMAS.published,
    event: true,
    example: {
      params: {
        session_id: 'ai1',
        message_id: 'm1',
        role: 'assistant',
        content: 'Hello',
        is_streaming: true,
        is_final: false,
        seq: 0,
      },
      result: { room: 'session:ai1', offset: 12, epoch: 'kT2x9QfA' },
    },
  })
  sessionMessage(params: SessionMessageParams, caller: RpcCaller): Promise<Published> {
    return this.event('session.message', sessionRoom(params), params, caller);
  }

  @RpcMethod({
    name: 'session.task_status',
    params: TaskStatusParams,
    permission: 'publish',
    room: sessionRoom,
    description: 'The status of a task of an AI session.',
    result: RESULT_SCHEMAS.published,
    event: true,
    example: {
      params: { session_id: 'ai1', task_id: 't1', status: 'running', progress: 40 },
      result: { room: 'session:ai1', offset: 12, epoch: 'kT2x9QfA' },
    },
  })
  taskStatus(params: TaskStatusParams, caller: RpcCaller): Promise<Published> {
    return this.event('session.task_status', sessionRoom(params), params, caller);
  }

  @RpcMethod({
    name: 'session.context_updated',
    params: ContextUpdatedParams,
    permission: 'publish',
    room: sessionRoom,
    description: 'The context of an AI session changed.',
    result: RESULT_SCHEMAS.published,
    event: true,
    example: {
      params: { session_id: 'ai1', context: { file: 'src/app.ts' } },
      result: { room: 'session:ai1', offset: 12, epoch: 'kT2x9QfA' },
    },
  })
  contextUpdated(params: ContextUpdatedParams, caller: RpcCaller): Promise<Published> {
    return this.event('session.context_updated', sessionRoom(params), params, caller);
  }

  @RpcMethod({
    name: 'notification.send',
    params: NotificationParams,
    permission: 'backend',
    description: 'A notification to every connection of one user, cluster-wide.',
    result: RESULT_SCHEMAS.delivered,
    example: {
      params: { user_id: '42', title: 'Build', message: 'Build done', type: 'success' },
      result: { delivered: 2 },
    },
  })
  async send(params: NotificationParams, caller: RpcCaller): Promise<Delivered> {
    const { user_id, title, message, type, action_url } = params;
    const data = { title, message, notification_type: type, ...(action_url && { action_url }) };
    const delivered = await this.guard(() => this.events.notify(user_id, data, caller));
    return { delivered };
  }

  @RpcMethod({
    name: 'notification.broadcast',
    params: BroadcastParams,
    permission: 'backend',
    description: 'A notification to every connection.',
    result: RESULT_SCHEMAS.broadcast,
    example: {
      params: { title: 'Maintenance', message: 'At 22:00 UTC', type: 'warning' },
      result: { broadcast: true },
    },
  })
  async broadcast(
    { title, message, type }: BroadcastParams,
    caller: RpcCaller,
  ): Promise<Broadcast> {
    const data = { title, message, notification_type: type };
    await this.guard(() => this.events.broadcast(data, caller));
    return { broadcast: true };
  }

  @RpcMethod({
    name: 'user.disconnect',
    params: DisconnectParams,
    permission: 'backend',
    description: 'Closes every connection of one user, cluster-wide, with 4500 (do not reconnect).',
    result: RESULT_SCHEMAS.disconnected,
    example: {
      params: { user_id: '42', reason: 'account closed' },
      result: { disconnected: 1 },
    },
  })
  async disconnect(
    { user_id, reason }: DisconnectParams,
    caller: RpcCaller,
  ): Promise<Disconnected> {
    const disconnected = await this.guard(() =>
      this.events.disconnect(user_id, reason ?? 'disconnected', caller),
    );
    return { disconnected };
  }

  @RpcMethod({
    name: RoomMethod.JoinRoom,
    params: JoinRoomParams,
    permission: 'query',
    description: 'Follows an event room besides the chat room (with `since`, recovers first).',
    result: RESULT_SCHEMAS.followed,
    example: {
      params: { room: 'workspace:w1', since: { offset: 10, epoch: 'kT2x9QfA' } },
      result: { room: 'workspace:w1', offset: 12, epoch: 'kT2x9QfA', recovered: true },
    },
  })
  async joinRoom({ room, since }: JoinRoomParams, caller: RpcCaller): Promise<Followed> {
    const session = socketOf(caller, RoomMethod.JoinRoom);
    const user = session.user ?? `anon:${session.id}`;
    const position = since && { offset: since.offset, epoch: since.epoch };
    const entry = await this.guard(
      () => this.roomsService.follow(session, user, room, position),
      'room',
    );
    return { room, ...entry };
  }

  @RpcMethod({
    name: RoomMethod.LeaveRoom,
    params: RoomParams,
    permission: 'query',
    description: 'Stops following an event room.',
    result: RESULT_SCHEMAS.left,
    example: {
      params: { room: 'workspace:w1' },
      result: { left: true },
    },
  })
  async leaveRoom({ room }: RoomParams, caller: RpcCaller): Promise<Left> {
    const session = socketOf(caller, RoomMethod.LeaveRoom);
    return { left: await this.guard(() => this.roomsService.unfollow(session, room)) };
  }

  @RpcMethod({
    name: RoomMethod.Presence,
    params: RoomParams,
    permission: 'query',
    description: 'Who is in a room, cluster-wide.',
    result: RESULT_SCHEMAS.presence,
    example: {
      params: { room: 'lobby' },
      result: {
        room: 'lobby',
        users: [{ userId: 'alice', connections: 1, since: '2026-12-01T10:00:00.000Z' }],
        count: 1,
        truncated: false,
      },
    },
  })
  async presence({ room }: RoomParams, caller: RpcCaller): Promise<RoomPresence> {
    this.assertMayRead(caller, room);
    const answer = await this.guard(() => this.roomsService.presenceOf(room));
    const { type: _type, roomId: _roomId, ...presence } = JSON.parse(answer) as PresenceFrame;
    return { room, ...presence };
  }

  @RpcMethod({
    name: RoomMethod.History,
    params: HistoryParams,
    permission: 'query',
    description: 'A room’s retained events and messages, oldest first.',
    result: RESULT_SCHEMAS.history,
    example: {
      params: { room: 'workspace:w1', limit: 50 },
      result: { room: 'workspace:w1', offset: 12, epoch: 'kT2x9QfA', messages: [] },
    },
  })
  async history({ room, limit, before }: HistoryParams, caller: RpcCaller): Promise<RoomHistory> {
    this.assertMayRead(caller, room);
    const bill = caller.kind === 'socket' ? { payer: caller.session } : { answers: caller.answers };
    const read = await this.guard(() => this.roomsService.historyOf(room, { limit, before }, bill));
    return {
      room,
      offset: read.offset,
      epoch: read.epoch,
      messages: read.messages.map((frame) => JSON.parse(frame) as unknown),
      ...(read.truncated && { truncated: true as const }),
    };
  }

  @RpcMethod({
    name: 'rooms',
    params: NoParams,
    permission: 'query',
    description: 'The rooms the calling connection is in (a backend is in none).',
    result: RESULT_SCHEMAS.rooms,
    example: {
      params: {},
      result: { rooms: ['lobby', 'workspace:w1'] },
    },
  })
  listRooms(_params: NoParams, caller: RpcCaller): RoomList {
    return { rooms: caller.kind === 'socket' ? this.roomsService.roomsOf(caller.session) : [] };
  }

  /** Publishes a room event; the caller's idempotency key makes a re-run publish nothing. */
  private event(name: string, room: string, params: object, caller: RpcCaller): Promise<Published> {
    return this.guard(() => this.events.publish(name, room, { ...params }, caller));
  }

  private assertMayRead(caller: RpcCaller, room: string): void {
    if (caller.kind === 'socket' && !this.roomsService.mayEnter(caller.session, room)) {
      throw new RpcError(
        RpcErrorCode.Forbidden,
        'the token does not allow this room (see its `rooms` claim, or AUTH_DEFAULT_ROOMS)',
      );
    }
  }

  /**
   * Runs a room operation; its ChatErrors become the RPC errors a caller acts on (`field`: the
   * param an invalid_params names).
   */
  private async guard<T>(operation: () => Promise<T>, field?: string): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw error instanceof ChatError ? rpcErrorOf(error, { field }) : error;
    }
  }
}

function socketOf(caller: RpcCaller, method: string): Session {
  if (caller.kind !== 'socket') {
    const error = `${method} is for sockets: a backend is in no room`;
    throw invalidParams(error, [{ field: 'room', error }]);
  }
  return caller.session;
}
