import { Logger } from '@nestjs/common';
import type { WsMessageHandler } from '@nestjs/common/interfaces';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isObservable, lastValueFrom } from 'rxjs';
import type { RawData, WebSocket } from 'ws';
import { ClientMessageType, ErrorFrame, ServerFrame } from '../protocol/chat.protocol';
import { ChatError } from '../protocol/chat-error';
import { CloseCode } from '../protocol/close-codes';
import { ErrorCode } from '../protocol/error-code';
import { logUnexpected, refusalFrame, toErrorFrame } from '../protocol/error-frame';
import { RpcErrorCode, RpcMessageType, type RpcErrorFrame } from '../protocol/rpc.protocol';
import { ParsedMessage, parseFrame, RefusedFrame } from './message-parser';
import type { Principal } from '../protocol/principal';
import { SerialQueue } from './serial-queue';
import type { AdmissionPool } from './handshake-guard';
import type { StallClock } from './loop-stall-meter';
import { TokenBucket } from './token-bucket';

/** The server's own faults (a broker outage, a bug): answered, never counted against the client. */
const SERVER_FAULTS: ReadonlySet<string> = new Set([
  ErrorCode.Unavailable,
  ErrorCode.Internal,
  RpcErrorCode.Unavailable,
  RpcErrorCode.InternalError,
]);

const OPEN = 1;
const CLOSED = 3;
const TEXT = { binary: false } as const;
const NO_HANDLERS: readonly WsMessageHandler[] = [];
const log = new Logger('Session');
/** How often a paced send looks at a backlog that no paced write of its own is part of. */
const DRAIN_POLL_MS = 10;

/** The limits one session is held to. */
export interface SessionLimits {
  /** Outbound bytes queued in the socket beyond which the client counts as too slow. */
  maxBufferedBytes: number;
  /** Error frames allowed within `abuseWindowMs`; one more evicts the session. */
  abuseErrorsMax: number;
  abuseWindowMs: number;
  /** Queued inbound frames past which the socket is no longer read (MAX_INBOUND_QUEUE). */
  maxInboundQueue: number;
  ratePerSecond: number;
  rateBurst: number;
  /**
   * Tokens a message of a type takes (PRESENCE_COST, SWITCH_COST), an `rpc` frame's by its method
   * (keyed `costKey('rpc', method)`); others take one.
   */
  costs: ReadonlyMap<string, number>;
  /**
   * Longest wait of a paced send (`sendPaced`, a replay) for the socket to drain; a client that
   * takes nothing for this long is closed as too slow. Default DRAIN_TIMEOUT_MS.
   */
  drainTimeoutMs?: number;
}

/** Default of SessionLimits.drainTimeoutMs. */
export const DRAIN_TIMEOUT_MS = 30_000;

/** The key of `SessionLimits.costs` for a message type, or for one method of `rpc` frames. */
export function costKey(type: string, method?: string): string {
  return method === undefined ? type : `${type} ${method}`;
}

/** What a session reports to whoever keeps it (the SessionRegistry). */
export interface SessionOwner {
  /** The server decided to close the session (slow, abusive, past a deadline). */
  evicted(session: Session): void;
  /** The socket closed, however it closed; the admission slot is released already. */
  closed(session: Session): void;
  /** The session's user (`Session.user`) changed from `previous`. */
  identified?(session: Session, previous: string | undefined): void;
}

/** The admission counter of the upgrade (HandshakeGuard): one slot per admitted connection. */
export interface AdmissionSlots {
  release(ip: string, pool: AdmissionPool): void;
}

/** What every session of one registry shares; one object, not one per session. */
export interface SessionContext {
  readonly limits: SessionLimits;
  readonly slots: AdmissionSlots;
  readonly owner: SessionOwner;
  /** The answer to a frame over the rate limit. */
  readonly rateLimited: ChatError;
  /** The event loop's stalls, credited to the rate buckets (see TokenBucket). */
  readonly stalls: StallClock;
  /** Authentication by first frame and `refresh` (AUTH_MODE=jwt); absent without it. */
  readonly auth?: SessionAuthHooks;
}

/** What a session hands to authentication: its first frame while unauthenticated, and `refresh`. */
export interface SessionAuthHooks {
  /** The first frame of a session opened without a token (`undefined`: it was binary). */
  firstFrame(session: Session, text: string | undefined): Promise<void>;
  /** A `{type:"refresh", ...}` frame's fields. */
  refresh(session: Session, data: unknown): Promise<void>;
}

/** How full a session's inbound queue is, for tests and metrics. */
export interface InboundState {
  queued: number;
  peak: number;
  paused: boolean;
}

/**
 * Everything about one WebSocket connection, created at the upgrade: the socket (this is the only
 * code that writes to it; services hold Sessions, never sockets), id, client IP and admission
 * slot, the verified principal, the token bucket, pong state, the rooms it is in and ONE bounded
 * queue in which its inbound frames and its own operations (auto-join, leave on close or
 * eviction) run one after another, in order.
 *
 * Two ways to end: the server closing it (eviction, drain, missed pong) stops hearing it at once;
 * the client closing it does not: what the client sent before its close is handled first, and the
 * leave queued at the close runs after it.
 */
export class Session {
  readonly id = randomUUID();
  /** Epoch ms of the upgrade; the join deadline counts from here. */
  readonly connectedAt = Date.now();
  private verified: Principal | undefined = undefined;
  private joinedAs: string | undefined = undefined;
  /**
   * Opened under AUTH_MODE=jwt without a token: its first frame is its `Bearer <jwt>`, handed to
   * authentication instead of a handler; nothing it sends is handled before that succeeds.
   */
  awaitingAuth = false;
  /** The admission pool whose slot the session holds (moved to `user` by a first-frame login). */
  admissionPool: AdmissionPool = 'user';
  /** The `expiresAt` whose `token_expired` was sent; a refresh's new expiry arms a new notice. */
  expiryNoticeSentFor: number | undefined = undefined;
  /**
   * The connection uses the server otherwise than through a room: it made an RPC call. Such a
   * connection (a tool, a backend-facing client of seed 003's protocol) need not join, so the
   * join deadline no longer applies to it.
   */
  engaged = false;
  /**
   * The chat room this session is in (at most one). Rooms of other kinds (event rooms) will sit
   * beside it as a set created on first use, and a leave then leaves them all.
   */
  roomId: string | undefined = undefined;
  /**
   * Event rooms the session follows besides its chat room (`join_room`), each with the user id
   * its membership is under; created on first use.
   */
  eventRooms: Map<string, string> | undefined = undefined;
  /** A ping went out and its pong has not come back yet. */
  private awaitingPong = false;
  /** False once the server decided to close it: later frames are dropped unhandled. */
  private heard = true;
  private evicted = false;
  private handlers: readonly WsMessageHandler[] = NO_HANDLERS;
  private readonly bucket: TokenBucket;
  /**
   * The client's rate over the whole abuse window: RATE_LIMIT_PER_SECOND for ABUSE_WINDOW_MS on
   * top of the burst, taken by every frame, accepted or refused. A refusal counts toward
   * ABUSE_ERRORS_MAX only once this is empty too, i.e. when the client's average rate over the
   * window is over the limit, not when one bunch of frames was.
   */
  private readonly sustained: TokenBucket;
  /** performance.now() of the previous refill: the stalls since are credited to the buckets. */
  private lastArrival: number;
  private readonly queue: SerialQueue;
  /** Times of recent error frames; created by the first one (most sessions never err). */
  private errorTimes: number[] | undefined;
  /** Resolves when the last frame `sendPaced` wrote has been handed to the network. */
  private lastPaced: Promise<void> | undefined;

  /**
   * @param messageTypes the message types known on this session's path: shared by every session
   *   there, filled with the names of the handlers its gateways bind (`bind`).
   */
  constructor(
    private readonly socket: WebSocket,
    readonly remoteAddress: string,
    private readonly messageTypes: Set<string>,
    private readonly context: SessionContext,
  ) {
    const { limits } = context;
    this.lastArrival = performance.now();
    this.bucket = new TokenBucket(limits.ratePerSecond, limits.rateBurst, this.lastArrival);
    const windowAllowance = (limits.ratePerSecond * limits.abuseWindowMs) / 1000;
    this.sustained = new TokenBucket(
      limits.ratePerSecond,
      limits.rateBurst + windowAllowance,
      this.lastArrival,
    );
    this.queue = new SerialQueue(limits.maxInboundQueue, socket, (error) =>
      logUnexpected(error, log),
    );
    socket.on('error', onSocketError);
    socket.on('message', (data: RawData, isBinary: boolean) => this.receive(data, isBinary));
    socket.on('pong', () => (this.awaitingPong = false));
    socket.once('close', () => {
      context.slots.release(remoteAddress, this.admissionPool);
      context.owner.closed(this);
    });
  }

  /** The verified identity (AUTH_MODE=jwt), from the upgrade, the first frame or a refresh. */
  get principal(): Principal | undefined {
    return this.verified;
  }

  set principal(principal: Principal | undefined) {
    const before = this.user;
    this.verified = principal;
    this.identityChanged(before);
  }

  /** Bound by the first successful join; later messages must name the same user. */
  get userId(): string | undefined {
    return this.joinedAs;
  }

  set userId(userId: string | undefined) {
    const before = this.user;
    this.joinedAs = userId;
    this.identityChanged(before);
  }

  /** Who the connection is: its token's user, or the user it joined as (AUTH_MODE=none). */
  get user(): string | undefined {
    return this.verified?.userId ?? this.joinedAs;
  }

  private identityChanged(before: string | undefined): void {
    if (this.user !== before) this.context.owner.identified?.(this, before);
  }

  /** Adds one gateway's message handlers; several gateways on one path each bind theirs. */
  bind(handlers: readonly WsMessageHandler[]): void {
    for (const handler of handlers) this.messageTypes.add(String(handler.message));
    this.handlers = this.handlers.length === 0 ? handlers : [...this.handlers, ...handlers];
  }

  /** Whether a gateway on this session's path handles messages of `type`. */
  handles(type: string): boolean {
    return this.messageTypes.has(type);
  }

  /** Queues one of the session's own operations behind everything queued so far. */
  enqueue(op: () => unknown): void {
    this.queue.push(op);
  }

  /** Runs `listener` once when the socket has closed, however it closed. */
  onClose(listener: () => void): void {
    this.socket.once('close', listener);
  }

  /** Resolves when the socket has closed. Made on demand: an idle session holds no promise. */
  whenClosed(): Promise<void> {
    if (this.socket.readyState === CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  /** Open and not being evicted: frames sent now are written. */
  get isOpen(): boolean {
    return !this.evicted && this.socket.readyState === OPEN;
  }

  /** Bytes written to this socket and not yet handed to the network. */
  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  get inbound(): InboundState {
    return { queued: this.queue.size, peak: this.queue.peak, paused: this.queue.isPaused };
  }

  /**
   * Sends an already serialized frame (a Buffer is sent as a text frame: a broadcast encodes its
   * UTF-8 once for all receivers); a closing or closed socket drops it. Never blocks and never
   * queues without bound: a client whose backlog passes the limit is closed with 1013, unless the
   * backlog before this frame was at most half the limit (one large frame, such as a full history
   * page, to a client that keeps up is not a backlog). The socket holds at most the limit plus one
   * frame.
   */
  send(payload: string | Buffer): void {
    if (!this.isOpen) return;
    this.socket.send(payload, TEXT);
    const backlog = this.socket.bufferedAmount;
    const limit = this.context.limits.maxBufferedBytes;
    if (backlog > limit && backlog - Buffer.byteLength(payload) > limit / 2) {
      this.evict(CloseCode.TryAgainLater, 'slow consumer');
    }
  }

  /**
   * Sends a frame of a replay with flow control: first waits until the socket holds at most half
   * of MAX_BUFFERED_BYTES (the client reads what was sent), then writes the frame, whatever its
   * size, without the slow-consumer check (the replay's own backlog is not the client's fault).
   * So a replay larger than the send queue goes out as fast as the client takes it. Resolves
   * false, writing nothing, when the session closed meanwhile, or evicts it (1013) when the socket
   * did not drain within `drainTimeoutMs`.
   */
  async sendPaced(payload: string | Buffer): Promise<boolean> {
    if (!(await this.drained())) return false;
    this.lastPaced = new Promise((resolve) => this.socket.send(payload, TEXT, () => resolve()));
    return true;
  }

  /**
   * Resolves true once the socket holds at most half of MAX_BUFFERED_BYTES, false when the
   * session closed first or the drain took longer than `drainTimeoutMs` (then it is evicted as a
   * slow consumer). The wait is on the last paced write's completion; frames written otherwise
   * (other rooms, unpaced) are waited out by polling their drain.
   */
  async drained(): Promise<boolean> {
    const { maxBufferedBytes, drainTimeoutMs = DRAIN_TIMEOUT_MS } = this.context.limits;
    const deadline = performance.now() + drainTimeoutMs;
    while (this.isOpen && this.socket.bufferedAmount > maxBufferedBytes / 2) {
      const left = deadline - performance.now();
      if (left <= 0) {
        this.evict(CloseCode.TryAgainLater, 'slow consumer');
        return false;
      }
      const written = this.lastPaced;
      this.lastPaced = undefined;
      let timer: NodeJS.Timeout | undefined;
      const wait = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, written ? left : Math.min(left, DRAIN_POLL_MS));
      });
      await Promise.race(written ? [written, wait] : [wait]);
      clearTimeout(timer);
    }
    return this.isOpen;
  }

  /** Closes the session as a consumer that cannot keep up (its frames piled up unsent). */
  overflow(): void {
    this.evict(CloseCode.TryAgainLater, 'slow consumer');
  }

  sendFrame(frame: ServerFrame): void {
    this.send(JSON.stringify(frame));
  }

  /**
   * Sends an error frame; a client that causes too many in the window is closed with 1008. A
   * server fault (`unavailable`, `internal`) is the server's, not the client's: never counted.
   */
  sendError(frame: ErrorFrame | RpcErrorFrame, now = Date.now()): void {
    this.sendFrame(frame);
    if (!SERVER_FAULTS.has(frame.code)) this.countError(now);
  }

  private countError(now: number): void {
    const { abuseWindowMs, abuseErrorsMax } = this.context.limits;
    const times = (this.errorTimes ??= []);
    times.push(now);
    while (times.length > 0 && times[0] <= now - abuseWindowMs) times.shift();
    if (times.length > abuseErrorsMax) this.evict(CloseCode.PolicyViolation, 'too many errors');
  }

  /**
   * Closes the session on the server's initiative. It stops being heard at once and its owner
   * lets it leave its rooms now, not when the (possibly stuck) client answers the close.
   */
  evict(code: CloseCode, reason: string): void {
    if (this.evicted) return;
    this.evicted = true;
    this.stopHearing();
    this.socket.close(code, reason);
    this.context.owner.evicted(this);
  }

  /** Closes on the server's initiative without eviction (drain): the leave comes with the close. */
  close(code: CloseCode, reason: string): void {
    this.stopHearing();
    this.socket.close(code, reason);
  }

  terminate(): void {
    this.stopHearing();
    this.socket.terminate();
  }

  /**
   * One heartbeat tick: pings, or terminates a client that has not answered the previous ping.
   * A session whose reading is paused is skipped: its pong may be waiting unread behind frames
   * the server has not got to, which is the server's delay, not the client's.
   */
  heartbeat(): void {
    if (this.socket.readyState !== OPEN) return;
    if (this.queue.isPaused) {
      this.awaitingPong = false;
      return;
    }
    if (this.awaitingPong) {
      log.debug('Terminating a connection that missed its pong');
      this.terminate();
      return;
    }
    this.awaitingPong = true;
    this.socket.ping();
  }

  /**
   * One listener per socket, no per-connection RxJS pipeline. The rate is taken at arrival, before
   * any queueing, so a flood costs a parse and a counter each (the frame is parsed even when the
   * bucket is empty: its cost depends on its type, and the refusal of an `rpc` frame carries its
   * correlation id); then the frame waits its turn in the queue. Text arrives as one Buffer (ws'
   * default binaryType 'nodebuffer').
   */
  private receive(data: RawData, isBinary: boolean): void {
    if (!this.heard) return;
    const auth = this.context.auth;
    if (this.awaitingAuth && auth) {
      // Whatever follows the first frame waits in the queue behind its verification and is
      // dropped unhandled if that fails (the session is no longer heard then).
      this.awaitingAuth = false;
      const text = isBinary ? undefined : (data as Buffer).toString();
      this.queue.push(() => auth.firstFrame(this, text));
      return;
    }
    this.refill(performance.now());
    const message = parseFrame(isBinary ? data : (data as Buffer).toString(), this.messageTypes);
    const parsed =
      message instanceof ChatError || message instanceof RefusedFrame ? undefined : message;
    const cost = parsed ? this.costOf(parsed) : 1;
    const withinWindow = this.sustained.take(cost);
    const retryAfter = this.secondsUntil(cost);
    if (this.bucket.take(cost)) {
      this.queue.push(() => this.dispatch(message));
    } else {
      const correlationId =
        message instanceof RefusedFrame ? message.correlationId : parsed?.correlationId;
      this.queue.push(() => this.refuse(!withinWindow, correlationId, retryAfter));
    }
  }

  /**
   * Whether the rate bucket is out of debt now. Work charged once done (`charge`) may take it
   * below zero after later frames were admitted already (a client sending many at once): those
   * must not run before it refilled, or the charge would come too late to bound anything.
   */
  get solvent(): boolean {
    this.refill(performance.now());
    return this.bucket.available >= -1e-9;
  }

  /** Refills both buckets up to `now`, crediting the event loop's stalls since the last refill. */
  private refill(now: number): void {
    const stalled = this.context.stalls.stalledBetween(this.lastArrival, now);
    this.lastArrival = now;
    this.bucket.refill(now, stalled);
    this.sustained.refill(now, stalled);
  }

  /** Whole seconds (at least one) until the bucket holds `cost` tokens, told to RPC callers. */
  private secondsUntil(cost: number): number {
    const missing = cost - this.bucket.available;
    return Math.max(1, Math.ceil(missing / this.context.limits.ratePerSecond));
  }

  /**
   * Charges work whose cost is known once done (a `history` answer, by its bytes) to both rate
   * buckets, beyond the token its frame took at arrival: they may go below zero, and the frames
   * that follow are refused until they refill.
   */
  charge(tokens: number): void {
    if (tokens <= 0) return;
    this.bucket.debit(tokens);
    this.sustained.debit(tokens);
  }

  private costOf({ event, data }: ParsedMessage): number {
    const { costs } = this.context.limits;
    if (event === RpcMessageType.Rpc) {
      const method = (data as Record<string, unknown>).method;
      if (typeof method === 'string') return costs.get(costKey(event, method)) ?? 1;
    }
    return costs.get(event) ?? 1;
  }

  /**
   * Answers a frame over the rate limit; `counted`: the client's rate is really over it. An `rpc`
   * frame's answer carries its correlation id and the seconds to wait.
   */
  private refuse(counted: boolean, correlationId: string | undefined, retryAfter: number): void {
    if (!this.heard) return;
    const frame = refusalFrame(this.context.rateLimited, correlationId, { retryAfter });
    if (counted) this.sendError(frame);
    else this.sendFrame(frame);
  }

  /** Runs the handler of one frame, or answers a bad frame; a handler's non-empty result is sent
   * back as JSON. Never rejects: handler errors were answered by the gateway's exception filter. */
  private async dispatch(message: ParsedMessage | ChatError | RefusedFrame): Promise<void> {
    if (!this.heard) return;
    if (message instanceof ChatError) return this.sendError(toErrorFrame(message, log));
    if (message instanceof RefusedFrame) {
      const { error, correlationId, field } = message;
      return this.sendError(refusalFrame(error, correlationId, { field }));
    }
    if (message.event === ClientMessageType.Refresh && this.context.auth) {
      return this.context.auth.refresh(this, message.data);
    }
    if (this.principal && !actsForPrincipal(message, this.principal.userId)) {
      const error = new ChatError(ErrorCode.UserMismatch, 'userId differs from the token’s user');
      return this.sendError(refusalFrame(error, message.correlationId, { field: 'userId' }));
    }
    // A few handlers: scanning them costs less than a Map per session.
    const handler = this.handlers.find((h) => h.message === message.event);
    if (!handler) {
      const error = new ChatError(ErrorCode.UnknownType, 'unknown message type');
      return this.sendError(refusalFrame(error, message.correlationId));
    }
    try {
      const returned: unknown = await handler.callback(message.data, message.event);
      const result = isObservable(returned)
        ? await lastValueFrom(returned, { defaultValue: undefined })
        : returned;
      if (result !== undefined && result !== null) this.send(JSON.stringify(result));
    } catch (error) {
      logUnexpected(error, log);
    }
  }

  /** Drops whatever the client sends from now on. A paused socket is read again so that the
   * client's answer to the close frame is seen (its frames are dropped unhandled). */
  private stopHearing(): void {
    this.heard = false;
    if (this.queue.isPaused) this.socket.resume();
  }
}

/**
 * An authenticated session's messages act for its token's user: one that leaves `userId` out gets
 * it filled in, one that names another user is refused (false). The parser made `data` a fresh
 * plain object, so filling it in changes nothing the client holds.
 */
function actsForPrincipal(message: ParsedMessage, userId: string): boolean {
  const data = message.data as Record<string, unknown>;
  if (!('userId' in data)) {
    data.userId = userId;
    return true;
  }
  return data.userId === userId;
}

/** Socket errors are the client's (oversized frame, invalid UTF-8, reset): one debug line, no
 * stack. Without a listener ws would raise an unhandled 'error' and end the process. */
function onSocketError(error: Error & { code?: string }): void {
  log.debug(`Socket error ${error.code ?? error.name}: ${error.message}`);
}
