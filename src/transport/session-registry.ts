import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import { AppConfig } from '../config/app-config';
import { ShutdownState } from '../lifecycle/shutdown-state';
import { ChatError } from '../protocol/chat-error';
import { ClientMessageType } from '../protocol/chat.protocol';
import { AuthCloseReason, CloseCode } from '../protocol/close-codes';
import { ErrorCode } from '../protocol/error-code';
import { toErrorFrame } from '../protocol/error-frame';
import { RoomMethod, RpcMessageType } from '../protocol/rpc.protocol';
import { AdmissionPool, HandshakeGuard } from './handshake-guard';
import { LoopStallMeter } from './loop-stall-meter';
import { costKey, Session, SessionContext, SessionOwner } from './session';
import { HandshakeIdentity, SessionAuthenticator } from './session-authenticator';

/** Called when the server decides to close a session, before its socket has finished closing. */
export type EvictionListener = (session: Session) => void;

/**
 * A deadline the registry's one sweep enforces: the join, the first-frame authentication, the
 * token's expiry notice and the close after the refresh grace. A new principal (first frame,
 * refresh) is put under watch again (`watch`).
 */
interface Deadline {
  /** Epoch ms at which `session` is due, or undefined while (or once) it does not apply. */
  dueAt(session: Session): number | undefined;
  /** What happens when it is due; a rule whose `fire` does not close must stop being due. */
  fire(session: Session): void;
}

/** A deadline that closes the session. */
function closing(
  dueAt: (session: Session) => number | undefined,
  code: CloseCode,
  reason: string,
): Deadline {
  return { dueAt, fire: (session) => session.evict(code, reason) };
}

/** The live sessions of this instance, the deadlines on them and the drain at shutdown. */
@Injectable()
export class SessionRegistry implements BeforeApplicationShutdown, SessionOwner {
  private readonly logger = new Logger(SessionRegistry.name);
  private readonly sessions = new Set<Session>();
  /** Open sessions by user (Session.user), kept by `identified`. */
  private readonly byUser = new Map<string, Set<Session>>();
  /** Sessions with a deadline pending, swept by one timer instead of one timer each. */
  private readonly watched = new Set<Session>();
  private readonly joinDeadline: Deadline;
  private readonly deadlines: readonly Deadline[];
  private readonly sweep: NodeJS.Timeout;
  private readonly context: SessionContext;
  private readonly evictionListeners: EvictionListener[] = [];
  private readonly stallMeter = new LoopStallMeter().start();

  constructor(
    private readonly config: AppConfig,
    private readonly shutdown: ShutdownState,
    private readonly guard: HandshakeGuard,
    private readonly auth: SessionAuthenticator,
  ) {
    this.context = {
      limits: {
        maxBufferedBytes: config.MAX_BUFFERED_BYTES,
        abuseErrorsMax: config.ABUSE_ERRORS_MAX,
        abuseWindowMs: config.ABUSE_WINDOW_MS,
        maxInboundQueue: config.MAX_INBOUND_QUEUE,
        // A client that takes nothing of a replay for a heartbeat interval would miss its pong too.
        drainTimeoutMs: config.HEARTBEAT_INTERVAL_MS,
        ratePerSecond: config.RATE_LIMIT_PER_SECOND,
        rateBurst: config.RATE_LIMIT_BURST,
        costs: new Map<string, number>([
          [ClientMessageType.Presence, config.PRESENCE_COST],
          [ClientMessageType.SwitchRoom, config.SWITCH_COST],
          // A join to another room is a switch, so it must not be the cheap way to switch.
          [ClientMessageType.Join, config.SWITCH_COST],
          // The RPC methods doing what those frames do cost what they cost.
          [costKey(RpcMessageType.Rpc, RoomMethod.Presence), config.PRESENCE_COST],
          [costKey(RpcMessageType.Rpc, RoomMethod.JoinRoom), config.SWITCH_COST],
          [costKey(RpcMessageType.Rpc, RoomMethod.LeaveRoom), config.SWITCH_COST],
        ]),
      },
      slots: guard,
      owner: this,
      rateLimited: new ChatError(
        ErrorCode.RateLimited,
        `rate limit exceeded: at most ${config.RATE_LIMIT_PER_SECOND} messages per second`,
      ),
      ...(auth.required && {
        auth: {
          firstFrame: async (session, text) => {
            if (await auth.firstFrame(session, text, () => this.promote(session))) {
              this.watch(session);
            }
          },
          refresh: async (session, data) => {
            if (await auth.refresh(session, data)) this.watch(session);
          },
        },
      }),
      stalls: this.stallMeter,
    };
    // Joined means bound to a user, which a session stays: a room switch in flight (roomId
    // briefly unset) must not look like a session that never joined. A path whose gateways have
    // no `join` (an extension's own path) has nothing to join, so no join deadline; nor has a
    // session that uses the server by RPC (`engaged`).
    this.joinDeadline = closing(
      (s) =>
        s.userId === undefined && !s.engaged && s.handles(ClientMessageType.Join)
          ? s.connectedAt + config.JOIN_TIMEOUT_MS
          : undefined,
      CloseCode.PolicyViolation,
      'join timeout',
    );
    const authDeadline = closing(
      (s) => (s.awaitingAuth ? s.connectedAt + config.AUTH_TIMEOUT_MS : undefined),
      CloseCode.PolicyViolation,
      AuthCloseReason.AuthenticationTimeout,
    );
    // At `exp` the client is told once (per token) and has the grace to refresh.
    const expiryNotice: Deadline = {
      dueAt: (s) => {
        const at = s.principal?.expiresAt;
        return at !== undefined && s.expiryNoticeSentFor !== at ? at : undefined;
      },
      fire: (s) => {
        s.expiryNoticeSentFor = s.principal?.expiresAt;
        const error = new ChatError(ErrorCode.TokenExpired, 'the token expired: send refresh');
        s.sendError(toErrorFrame(error, this.logger));
      },
    };
    const expiryClose = closing(
      (s) => {
        const at = s.principal?.expiresAt;
        return at === undefined ? undefined : at + config.AUTH_REFRESH_GRACE_MS;
      },
      CloseCode.TokenExpired,
      AuthCloseReason.TokenExpired,
    );
    this.deadlines = auth.required
      ? [this.joinDeadline, authDeadline, expiryNotice, expiryClose]
      : [this.joinDeadline];
    // Deadlines are kept within a quarter of the shortest timeout that applies.
    const timeouts = [config.JOIN_TIMEOUT_MS];
    if (auth.required) timeouts.push(config.AUTH_TIMEOUT_MS);
    if (auth.required && config.AUTH_REFRESH_GRACE_MS > 0)
      timeouts.push(config.AUTH_REFRESH_GRACE_MS);
    const every = Math.max(10, Math.floor(Math.min(...timeouts) / 4));
    this.sweep = setInterval(() => this.sweepDeadlines(Date.now()), every);
    this.sweep.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Sessions whose join deadline is still pending (they have not joined, closed or expired). */
  get awaitingJoinCount(): number {
    let count = 0;
    for (const session of this.watched) {
      if (this.joinDeadline.dueAt(session) !== undefined) count += 1;
    }
    return count;
  }

  [Symbol.iterator](): IterableIterator<Session> {
    return this.sessions.values();
  }

  /** `listener` runs for every session the server evicts (slow, abusive, past a deadline). */
  onEviction(listener: EvictionListener): void {
    this.evictionListeners.push(listener);
  }

  /**
   * Creates the session of a socket just upgraded, holding the admission slot HandshakeGuard
   * counted for `ip` in `pool` (released when the socket closes). `messageTypes` is its path's
   * known set.
   */
  open(
    socket: WebSocket,
    ip: string,
    messageTypes: Set<string>,
    identity?: HandshakeIdentity,
    pool: AdmissionPool = 'user',
  ): Session {
    if (this.auth.required) messageTypes.add(ClientMessageType.Refresh);
    const session = new Session(socket, ip, messageTypes, this.context);
    session.admissionPool = pool;
    if (identity) this.auth.attach(session, identity);
    else session.awaitingAuth = this.auth.required;
    this.sessions.add(session);
    this.watched.add(session);
    if (session.user !== undefined) this.identified(session, undefined);
    return session;
  }

  /** A first-frame login takes a users' slot for its unauthenticated one; false when full. */
  private promote(session: Session): boolean {
    if (session.admissionPool === 'user') return true;
    if (!this.guard.promote(session.remoteAddress)) return false;
    session.admissionPool = 'user';
    return true;
  }

  /** Puts `session` under the sweep again: it has a new principal, so a new expiry. */
  watch(session: Session): void {
    if (this.sessions.has(session)) this.watched.add(session);
  }

  /**
   * The open sessions of `userId` (its token's user, or the user it joined as), from an index
   * kept as identities change: a push to a user touches that user's sessions, never a scan.
   */
  sessionsOf(userId: string): readonly Session[] {
    const held = this.byUser.get(userId);
    return held ? [...held] : [];
  }

  /** SessionOwner: the session's user changed; the index follows. */
  identified(session: Session, previous: string | undefined): void {
    if (previous !== undefined) this.unindex(session, previous);
    const user = session.user;
    if (user === undefined || !this.sessions.has(session)) return;
    let held = this.byUser.get(user);
    if (!held) this.byUser.set(user, (held = new Set()));
    held.add(session);
  }

  private unindex(session: Session, user: string): void {
    const held = this.byUser.get(user);
    if (held?.delete(session) && held.size === 0) this.byUser.delete(user);
  }

  /** SessionOwner: the socket closed; what is still queued on the session runs on without us. */
  closed(session: Session): void {
    const user = session.user;
    if (user !== undefined) this.unindex(session, user);
    this.sessions.delete(session);
    this.watched.delete(session);
    this.auth.closed(session);
  }

  /** SessionOwner: the server is closing `session`; its rooms are left now. */
  evicted(session: Session): void {
    this.logger.debug(`Evicting session ${session.id} from ${session.remoteAddress}`);
    for (const listener of this.evictionListeners) listener(session);
  }

  /**
   * Graceful stop: refuse new work, send every client a 1012 close frame and wait for the closing
   * handshakes, then terminate whatever is left once half of the shutdown budget is spent.
   */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.sweep);
    this.stallMeter.stop();
    this.shutdown.beginDrain();
    const open = [...this.sessions];
    if (open.length === 0) return;
    this.logger.log(`Draining ${open.length} connection(s)`);
    for (const session of open) session.close(CloseCode.ServiceRestart, 'server restarting');
    const budget = delay(this.config.SHUTDOWN_TIMEOUT_MS / 2, 'timeout' as const, { ref: false });
    const outcome = await Promise.race([Promise.all(open.map((s) => s.whenClosed())), budget]);
    if (outcome === 'timeout') {
      this.logger.warn('Drain budget spent; terminating the connections still open');
      for (const session of open) session.terminate();
    }
  }

  /** Evicts sessions past a deadline; forgets those with no deadline pending any more. */
  private sweepDeadlines(now: number): void {
    for (const session of this.watched) {
      let pending = false;
      for (const deadline of this.deadlines) {
        const due = deadline.dueAt(session);
        if (due === undefined) continue;
        if (due > now) {
          pending = true;
          continue;
        }
        deadline.fire(session);
        if (!session.isOpen) {
          pending = false;
          break;
        }
      }
      if (!pending) this.watched.delete(session);
    }
  }
}
