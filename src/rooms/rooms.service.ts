import { Inject, Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { frames } from '../protocol/chat.protocol';
import { ChatError } from '../protocol/chat-error';
import { ErrorCode } from '../protocol/error-code';
import { AppConfig } from '../config/app-config';
import type { AnswerLease } from '../common/answer-pool';
import { TurnGate } from '../common/turn-gate';
import type { Session } from '../transport/session';
import { BrokerUnavailableError, HistoryResult, RoomBroker } from './room-broker';
import { UNPOSITIONED, type Publication, type StreamPosition } from './publication';
import { OWN_MEMBERSHIP_SLACK, recoverable } from './recovery';
import { RoomPolicy } from '../auth/room-policy';
import { UserConnections } from '../auth/user-connections';
import { RoomHub } from './room-hub';
import { type AddResult, RoomStore } from './room-store';

/** Bytes of cached presence answers kept at most (the least recently used go first). */
const PRESENCE_CACHE_MAX_BYTES = 16 * 1024 * 1024;

/** Room entries and exits of `join_room` and of closing connections run per turn of the loop. */
const ROOM_CHANGES_PER_TURN = 64;

/** Frames a `history` request gets when it names no `limit`. */
export const HISTORY_DEFAULT_LIMIT = 50;

/** A `history` request: the room (default: the current one), how many, and before which offset. */
export interface HistoryQuery {
  roomId?: string;
  limit?: number;
  before?: number;
}

/** A room's history as read: its position and the frames, serialized, oldest first. */
export interface RoomHistory extends StreamPosition {
  roomId: string;
  messages: string[];
  /** Older frames of the page were left out to stay within HISTORY_MAX_ANSWER_BYTES. */
  truncated: boolean;
}

/** Who bears a `history` answer: a socket pays tokens, a backend's request holds pool bytes. */
export interface HistoryBill {
  payer?: Session;
  answers?: AnswerLease;
}

/** Where a joiner entered a room: its position, and for a join with `since` whether it recovered. */
export interface Entry extends StreamPosition {
  recovered?: boolean;
}

/**
 * Room membership and messaging for sessions. A session is in at most one chat room; a user may
 * have many sessions. Does not order calls itself: its callers run them in the session's queue
 * (frames, auto-join, leave), so the operations of one session never overlap.
 */
@Injectable()
export class RoomsService {
  private readonly logger = new Logger(RoomsService.name);
  /** Serialized presence answers by room; undefined with PRESENCE_CACHE_MS=0. */
  private readonly presenceCache: LRUCache<string, string> | undefined;
  /** Spreads follows and the leaves of closing connections over turns of the event loop. */
  private readonly turns = new TurnGate(ROOM_CHANGES_PER_TURN);

  constructor(
    @Inject(RoomStore) private readonly store: RoomStore,
    @Inject(RoomBroker) private readonly broker: RoomBroker,
    private readonly hub: RoomHub,
    private readonly config: AppConfig,
    private readonly policy: RoomPolicy,
    @Inject(UserConnections) private readonly users: UserConnections,
  ) {
    this.presenceCache =
      config.PRESENCE_CACHE_MS > 0
        ? new LRUCache<string, string>({
            ttl: config.PRESENCE_CACHE_MS,
            // Bounded in bytes: asking about many rooms must not grow memory without end.
            maxSize: PRESENCE_CACHE_MAX_BYTES,
            sizeCalculation: (answer) => answer.length,
            fetchMethod: (roomId) => this.renderPresence(roomId),
          })
        : undefined;
  }

  /**
   * Joins `roomId` (default: the user's own room). Binds the session to `userId` on first use.
   * Joining the current room again only repeats `joined`; joining another room switches to it.
   * With `since` (a position the client saw), what the client missed is replayed first when it
   * can be whole (see `recoverable`), and `joined` says whether it was.
   */
  async join(
    session: Session,
    userId: string,
    roomId: string = userId,
    since?: StreamPosition,
  ): Promise<void> {
    this.assertUser(session, userId);
    this.assertMayEnter(session, roomId);
    const confirm = (entry: Entry): void =>
      session.sendFrame(frames.joined(userId, roomId, entry, entry.recovered));
    if (session.roomId === roomId) return this.reenter(session, userId, roomId, since, confirm);
    if (session.roomId !== undefined) await this.leaveCurrentRoom(session);
    if (session.eventRooms?.get(roomId) === userId) {
      // Followed already, as the same user: it becomes the chat room.
      session.eventRooms.delete(roomId);
      await this.bind(session, userId);
      session.roomId = roomId;
      return this.reenter(session, userId, roomId, since, confirm);
    }
    if (session.eventRooms?.has(roomId)) await this.unfollow(session, roomId);
    await this.enter(session, userId, roomId, since, confirm, () => (session.roomId = roomId));
  }

  /**
   * Follows an event room besides the chat room (`join_room`): the same membership, replay and
   * hold as `join`, without a `joined` frame: resolves with where the session entered. At most
   * MAX_ROOMS_PER_CONNECTION rooms; the rooms claim decides as for `join`. It starts on a later
   * turn of the event loop, at most ROOM_CHANGES_PER_TURN per turn: in memory a follow needs no
   * I/O, and hundreds of connections following many rooms at once would otherwise run as one
   * task, holding every other socket until all are done.
   */
  async follow(
    session: Session,
    userId: string,
    roomId: string,
    since?: StreamPosition,
  ): Promise<Entry> {
    await this.turns.pass();
    this.assertMayEnter(session, roomId);
    let entered: Entry = { ...UNPOSITIONED };
    const confirm = (entry: Entry): void => void (entered = entry);
    if (session.roomId === roomId || session.eventRooms?.has(roomId)) {
      await this.reenter(session, userId, roomId, since, confirm);
      return entered;
    }
    const rooms = (session.eventRooms ??= new Map());
    if (rooms.size >= this.config.MAX_ROOMS_PER_CONNECTION) {
      throw new ChatError(
        ErrorCode.InvalidMessage,
        `a connection follows at most ${this.config.MAX_ROOMS_PER_CONNECTION} rooms`,
      );
    }
    await this.enter(
      session,
      userId,
      roomId,
      since,
      confirm,
      () => rooms.set(roomId, userId),
      false,
    );
    return entered;
  }

  /** Stops following an event room; false when the session did not follow it. */
  async unfollow(session: Session, roomId: string): Promise<boolean> {
    const userId = session.eventRooms?.get(roomId);
    if (userId === undefined) return false;
    session.eventRooms?.delete(roomId);
    await this.leave(session, roomId, userId);
    return true;
  }

  /** The rooms a session is in: its chat room first, then the event rooms it follows. */
  roomsOf(session: Session): string[] {
    return [
      ...(session.roomId === undefined ? [] : [session.roomId]),
      ...(session.eventRooms?.keys() ?? []),
    ];
  }

  /** Leaves the current room (if any) and joins `roomId`, exactly as `join` does. */
  switchRoom(
    session: Session,
    userId: string,
    roomId: string,
    since?: StreamPosition,
  ): Promise<void> {
    return this.join(session, userId, roomId, since);
  }

  /**
   * Answers a room's retained frames (default: the current room's), oldest first: at most
   * `limit` (default HISTORY_DEFAULT_LIMIT, at most HISTORY_MAX_LIMIT) with offsets below
   * `before` (default: up to the newest). Whoever may see the room's presence may read it.
   * The session pays for the answer by its bytes (see `historyOf`).
   */
  async history(session: Session, query: HistoryQuery): Promise<void> {
    const room = query.roomId ?? session.roomId;
    if (room === undefined) {
      throw new ChatError(ErrorCode.NotJoined, 'join a room or name one with roomId');
    }
    this.assertMayEnter(session, room);
    const read = await this.historyOf(room, query, { payer: session });
    session.send(frames.history(room, read, read.messages, read.truncated));
  }

  /**
   * A room's history, rendered as it was broadcast; no authorization (the caller's part). The
   * newest frames of the page whose bytes fit in HISTORY_MAX_ANSWER_BYTES (the newest one
   * whatever its size), `truncated` when older ones were left out. `payer`, a socket asking, is
   * charged one token per HISTORY_BYTES_PER_TOKEN bytes returned (rounded up): its frame took
   * one at arrival, the rest is taken now; a payer still in debt from an earlier answer is
   * refused `rate_limited` before anything is read. `answers`, a backend's request, sets aside
   * what it has left before the read and keeps the answer's bytes until it is sent: the answer
   * fits in it (cut, `truncated`, while its newest frame fits), else `unavailable` (the
   * request's budget is spent, or the pool of all requests' answers is full).
   */
  async historyOf(
    roomId: string,
    query: Omit<HistoryQuery, 'roomId'>,
    { payer, answers }: HistoryBill = {},
  ): Promise<RoomHistory> {
    if (payer && !payer.solvent) {
      throw new ChatError(
        ErrorCode.RateLimited,
        'rate limit exceeded: history answers cost a token per HISTORY_BYTES_PER_TOKEN bytes',
      );
    }
    const limit = Math.min(query.limit ?? HISTORY_DEFAULT_LIMIT, this.config.HISTORY_MAX_LIMIT);
    const reserved = answers && reserveAnswer(answers);
    let read: HistoryResult;
    let page: ReturnType<typeof newestWithin>;
    try {
      read = await this.unavailableAsChatError(() =>
        this.broker.history(roomId, { before: query.before, limit }),
      );
      const rendered: string[] = [];
      for (const publication of read.publications) {
        const frame = this.hub.render(publication);
        if (frame !== undefined) rendered.push(frame);
      }
      const maxBytes = Math.min(this.config.HISTORY_MAX_ANSWER_BYTES, reserved ?? Infinity);
      page = newestWithin(rendered, maxBytes);
    } catch (error) {
      if (reserved !== undefined) answers?.settle(reserved, 0);
      throw error;
    }
    if (answers && reserved !== undefined) settleAnswer(answers, reserved, page.bytes);
    payer?.charge(Math.ceil(page.bytes / this.config.HISTORY_BYTES_PER_TOKEN) - 1);
    return { roomId, ...read.position, messages: page.frames, truncated: page.truncated };
  }

  /** Who is in a room, serialized as the `presence` frame (cached as `presence` is). */
  async presenceOf(roomId: string): Promise<string> {
    const answer = this.presenceCache
      ? await this.presenceCache.fetch(roomId)
      : await this.renderPresence(roomId);
    return answer ?? (await this.renderPresence(roomId));
  }

  /** Whether the session's token lets it into `roomId` (the rooms claim). */
  mayEnter(session: Session, roomId: string): boolean {
    return this.policy.canEnter(session.principal, roomId);
  }

  /**
   * Broadcasts `content` to every session in the sender's room, the sender's included, or to
   * nobody (`unavailable` when the broker cannot publish: never to some members only). With a
   * `messageId`, a resend of it by the same user to the same room within IDEMPOTENCY_WINDOW_MS
   * is not broadcast again: the sender alone gets the original frame (its offset, epoch and
   * timestamp) as its echo, or, once the room's history no longer holds it, this one at the
   * original's position.
   */
  async sendMessage(
    session: Session,
    userId: string,
    content: string,
    messageId?: string,
  ): Promise<void> {
    const roomId = session.roomId;
    if (roomId === undefined) {
      throw new ChatError(ErrorCode.NotJoined, 'join a room before sending chat messages');
    }
    this.assertUser(session, userId);
    if (exceedsCodePoints(content, this.config.MAX_MESSAGE_LENGTH)) {
      throw new ChatError(
        ErrorCode.InvalidMessage,
        `content must be at most ${this.config.MAX_MESSAGE_LENGTH} characters`,
      );
    }
    const frame = JSON.stringify(
      frames.chatMessage(userId, roomId, content, new Date(), messageId),
    );
    // Namespaced by the user (ids hold no `/`): two users' message ids never meet.
    const idempotencyKey = messageId === undefined ? undefined : `c/${userId}/${messageId}`;
    const published = await this.unavailableAsChatError(
      () => this.broker.publish(roomId, { kind: 'frame', frame }, { idempotencyKey }),
      'the message could not be delivered; retry',
    );
    if (!published.duplicate) return;
    const data = published.original ?? { kind: 'frame', frame };
    const echo = this.hub.render({
      roomId,
      offset: published.offset,
      epoch: published.epoch,
      data,
    });
    if (echo !== undefined) session.send(echo);
  }

  /**
   * Answers who is in `roomId` (default: the current room), from the store's cluster-wide view:
   * at most PRESENCE_MAX_USERS users, the oldest first. The serialized answer is cached per room
   * for PRESENCE_CACHE_MS, so however many ask, the store is read (and the frame built) once per
   * room per period; concurrent askers share the read in flight.
   */
  async presence(session: Session, roomId: string | undefined): Promise<void> {
    const room = roomId ?? session.roomId;
    if (room === undefined) {
      throw new ChatError(ErrorCode.NotJoined, 'join a room or name one with roomId');
    }
    this.assertMayEnter(session, room);
    session.send(await this.presenceOf(room));
  }

  /**
   * A closed or evicted session leaves its rooms as `switch_room` would. Safe to call more than
   * once. Each followed room is left on a turn of the event loop of its own (as `follow` enters
   * it): hundreds of sessions closing at once, following a hundred rooms each, would otherwise
   * hold every other socket and timer until all are done.
   */
  async disconnect(session: Session): Promise<void> {
    if (session.roomId !== undefined) await this.leaveCurrentRoom(session);
    const followed = session.eventRooms;
    session.eventRooms = undefined;
    for (const [roomId, userId] of followed ?? []) {
      await this.turns.pass();
      await this.leave(session, roomId, userId);
    }
    const counted = this.config.MAX_CONNECTIONS_PER_USER > 0;
    if (counted && session.principal === undefined && session.userId !== undefined) {
      await this.users.release(session.userId, session.id).catch(() => undefined);
    }
  }

  private async renderPresence(roomId: string): Promise<string> {
    const members = await this.store.members(roomId, this.config.PRESENCE_MAX_USERS);
    const users = members.users.map((m) => ({ ...m, since: m.since.toISOString() }));
    return JSON.stringify(frames.presence(roomId, users, members.count));
  }

  /** Runs a broker call; a broker that cannot answer becomes the client's `unavailable`. */
  private async unavailableAsChatError<T>(
    call: () => Promise<T>,
    message = 'the room’s history could not be read; retry',
  ): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof BrokerUnavailableError)) throw error;
      throw new ChatError(ErrorCode.Unavailable, message, { retryable: true });
    }
  }

  /** The token's `rooms` claim (or AUTH_DEFAULT_ROOMS) decides; without a token, every room. */
  private assertMayEnter(session: Session, roomId: string): void {
    if (!this.policy.canEnter(session.principal, roomId)) {
      throw new ChatError(
        ErrorCode.Forbidden,
        'the token does not allow this room (see its `rooms` claim, or AUTH_DEFAULT_ROOMS)',
      );
    }
  }

  private assertUser(session: Session, userId: string): void {
    if (session.userId !== undefined && session.userId !== userId) {
      throw new ChatError(
        ErrorCode.UserMismatch,
        'userId differs from the user this session joined as',
      );
    }
  }

  /**
   * Enters a room: subscribed and held before the membership is visible, so no frame of the room
   * can be missed, and those published from here on reach the joiner after `confirm`. Binds the
   * session to `userId`; `record` notes the room on the session (as its chat room or a followed
   * one) once the membership exists, so that a leave finds it whatever fails afterwards.
   */
  private async enter(
    session: Session,
    userId: string,
    roomId: string,
    since: StreamPosition | undefined,
    confirm: (entry: Entry) => void,
    record: () => void,
    bind = true,
  ): Promise<void> {
    const member = { userId, connectionId: session.id };
    await this.broker.subscribe(roomId);
    this.hub.add(roomId, session);
    this.hub.hold(roomId, session);
    let added: AddResult;
    try {
      // The store announces user_joined to the others when this is the user's first connection.
      added = await this.store.add(roomId, member);
    } catch (error) {
      this.hub.remove(roomId, session);
      await this.broker.unsubscribe(roomId);
      throw error;
    }
    if (bind) await this.bind(session, userId);
    record();
    await this.catchUp(session, userId, roomId, since, confirm, added.position);
    this.logger.debug(`session ${session.id} (${userId}) entered ${roomId}`);
  }

  /** A room the session is in already: held again, and caught up as a join is. */
  private async reenter(
    session: Session,
    userId: string,
    roomId: string,
    since: StreamPosition | undefined,
    confirm: (entry: Entry) => void,
  ): Promise<void> {
    this.hub.hold(roomId, session);
    await this.catchUp(session, userId, roomId, since, confirm);
  }

  /**
   * Binds the session to the user it joined as. Under AUTH_MODE=none that is who the connection
   * is: counted (once) as a token's user is, so that pushes to the user know how many
   * connections they reach. With MAX_CONNECTIONS_PER_USER=0 nothing is counted.
   */
  private async bind(session: Session, userId: string): Promise<void> {
    const counted = this.config.MAX_CONNECTIONS_PER_USER > 0;
    if (counted && session.userId === undefined && session.principal === undefined) {
      await this.users.acquire(userId, session.id, Number.MAX_SAFE_INTEGER).catch(() => false);
    }
    session.userId = userId;
  }

  /**
   * The end of a join, the session held in the hub: reads the room's position (with what came
   * after `since`) in one step, replays what was missed when it can be whole, sends `joined`,
   * then releases the hold, which sends what was published after the position read. Every
   * publication thus reaches the joiner once, in order: up to the position by the replay (or
   * not at all: the client reloads through `history`), after it live. With the broker away the
   * position is unknown (offset 0 of no epoch) and nothing is recovered. A join without `since`
   * whose store read the position with the change (`entered`) reads nothing more.
   */
  private async catchUp(
    session: Session,
    userId: string,
    roomId: string,
    since: StreamPosition | undefined,
    confirm: (entry: Entry) => void,
    entered?: StreamPosition,
  ): Promise<void> {
    let read: HistoryResult = { publications: [], position: UNPOSITIONED };
    try {
      if (since === undefined && entered !== undefined) {
        read = { publications: [], position: entered };
      } else {
        read = await this.broker.history(
          roomId,
          since ? { since, limit: this.config.RECOVERY_MAX + OWN_MEMBERSHIP_SLACK } : { limit: 0 },
        );
      }
    } catch (error) {
      if (!(error instanceof BrokerUnavailableError)) {
        this.hub.release(roomId, session, UNPOSITIONED);
        throw error;
      }
    }
    const own = (p: Publication): boolean => p.data.kind !== 'frame' && p.data.userId === userId;
    // A replay costs what `history` costs: a session still in debt for one recovers nothing.
    const replay =
      since && session.solvent && recoverable(since, read, this.config.RECOVERY_MAX, own);
    if (replay && !(await this.replay(session, userId, replay))) {
      this.hub.release(roomId, session, read.position);
      return;
    }
    const recovered = since === undefined ? undefined : replay !== undefined;
    confirm({ ...read.position, ...(recovered !== undefined && { recovered }) });
    this.hub.release(roomId, session, read.position);
  }

  /**
   * Sends a recovery's frames with flow control (`Session.sendPaced`): as fast as the client
   * takes them, however large the replay, while the hub holds the room's live frames back; then
   * waits for the socket to drain to half its bound, so that `joined` and the held frames fit.
   * The replayed bytes are charged to the session's rate buckets. False when the session closed
   * or was evicted as too slow meanwhile.
   */
  private async replay(session: Session, userId: string, replay: Publication[]): Promise<boolean> {
    let bytes = 0;
    for (const publication of replay) {
      const frame = this.hub.render(publication, userId);
      if (frame === undefined) continue;
      bytes += Buffer.byteLength(frame);
      if (!(await session.sendPaced(frame))) return false;
    }
    // Charged as `history` is, one token per HISTORY_BYTES_PER_TOKEN bytes (the join frame paid
    // its own cost at arrival): rejoining with `since` is no cheaper way to pull a room's frames.
    if (bytes > 0) session.charge(Math.ceil(bytes / this.config.HISTORY_BYTES_PER_TOKEN));
    return session.drained();
  }

  private async leaveCurrentRoom(session: Session): Promise<void> {
    const roomId = session.roomId;
    if (roomId === undefined) return;
    session.roomId = undefined;
    await this.leave(session, roomId, session.userId);
  }

  private async leave(session: Session, roomId: string, userId: string | undefined): Promise<void> {
    if (userId === undefined) return;
    this.hub.remove(roomId, session);
    await this.broker.unsubscribe(roomId);
    await this.store.remove(roomId, { userId, connectionId: session.id });
    this.logger.debug(`session ${session.id} (${userId}) left ${roomId}`);
  }
}

/** Sets aside room for an answer in the request's lease, or refuses it `unavailable`. */
function reserveAnswer(answers: AnswerLease): number {
  const reserved = answers.reserve();
  if (typeof reserved === 'number') return reserved;
  throw answerRefused(reserved);
}

/** Keeps the answer's bytes of what was set aside, or refuses it `unavailable`. */
function settleAnswer(answers: AnswerLease, reserved: number, used: number): void {
  const taken = answers.settle(reserved, used);
  if (taken !== 'taken') throw answerRefused(taken);
}

function answerRefused(why: 'spent' | 'busy'): ChatError {
  return new ChatError(
    ErrorCode.Unavailable,
    why === 'spent'
      ? 'this request’s history answers reached HISTORY_MAX_ANSWER_BYTES: ask again in another request'
      : 'too many history answers in flight; retry',
  );
}

/**
 * The newest of `frames` (oldest first) whose UTF-8 bytes add up to at most `maxBytes`, the
 * newest one always, so that paging on with `before` always moves.
 */
export function newestWithin(
  frames: readonly string[],
  maxBytes: number,
): { frames: string[]; bytes: number; truncated: boolean } {
  let bytes = 0;
  let first = frames.length;
  while (first > 0) {
    const size = Buffer.byteLength(frames[first - 1]);
    if (first < frames.length && bytes + size > maxBytes) break;
    bytes += size;
    first -= 1;
  }
  return { frames: frames.slice(first), bytes, truncated: first > 0 };
}

/** True when `text` has more than `max` code points; counts only when UTF-16 length exceeds it. */
export function exceedsCodePoints(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let count = 0;
  for (const _ of text) {
    if (++count > max) return true;
  }
  return false;
}
