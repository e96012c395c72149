import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import { AppConfig } from '../config/app-config';
import { ShutdownState } from '../lifecycle/shutdown-state';
import { ChatError } from '../protocol/chat-error';
import { ClientMessageType } from '../protocol/chat.protocol';
import { CloseCode } from '../protocol/close-codes';
import { ErrorCode } from '../protocol/error-code';
import { HandshakeGuard } from './handshake-guard';
import { LoopStallMeter } from './loop-stall-meter';
import { Session, SessionContext, SessionOwner } from './session';

/** Called when the server decides to close a session, before its socket has finished closing. */
export type EvictionListener = (session: Session) => void;

/**
 * A deadline the registry's one sweep enforces. Token expiry will be a second one:
 * `{ dueAt: (s) => s.principal?.expiresAt, ... }`, plus `watch(session)` when a principal arrives.
 */
interface Deadline {
  /** Epoch ms at which `session` is due, or undefined while (or once) it does not apply. */
  dueAt(session: Session): number | undefined;
  readonly code: CloseCode;
  readonly reason: string;
}

/** The live sessions of this instance, the deadlines on them and the drain at shutdown. */
@Injectable()
export class SessionRegistry implements BeforeApplicationShutdown, SessionOwner {
  private readonly logger = new Logger(SessionRegistry.name);
  private readonly sessions = new Set<Session>();
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
    guard: HandshakeGuard,
  ) {
    this.context = {
      limits: {
        maxBufferedBytes: config.MAX_BUFFERED_BYTES,
        abuseErrorsMax: config.ABUSE_ERRORS_MAX,
        abuseWindowMs: config.ABUSE_WINDOW_MS,
        maxInboundQueue: config.MAX_INBOUND_QUEUE,
        ratePerSecond: config.RATE_LIMIT_PER_SECOND,
        rateBurst: config.RATE_LIMIT_BURST,
        costs: new Map<string, number>([
          [ClientMessageType.Presence, config.PRESENCE_COST],
          [ClientMessageType.SwitchRoom, config.SWITCH_COST],
          // A join to another room is a switch, so it must not be the cheap way to switch.
          [ClientMessageType.Join, config.SWITCH_COST],
        ]),
      },
      slots: guard,
      owner: this,
      rateLimited: new ChatError(
        ErrorCode.RateLimited,
        `rate limit exceeded: at most ${config.RATE_LIMIT_PER_SECOND} messages per second`,
      ),
      stalls: this.stallMeter,
    };
    // Joined means bound to a user, which a session stays: a room switch in flight (roomId
    // briefly unset) must not look like a session that never joined. A path whose gateways have
    // no `join` (an extension's own path) has nothing to join, so no join deadline.
    this.joinDeadline = {
      dueAt: (s) =>
        s.userId === undefined && s.handles(ClientMessageType.Join)
          ? s.connectedAt + config.JOIN_TIMEOUT_MS
          : undefined,
      code: CloseCode.PolicyViolation,
      reason: 'join timeout',
    };
    this.deadlines = [this.joinDeadline];
    // Deadlines are kept within a quarter of the join timeout.
    const every = Math.max(10, Math.floor(config.JOIN_TIMEOUT_MS / 4));
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
   * counted for `ip` (released when the socket closes). `messageTypes` is its path's known set.
   */
  open(socket: WebSocket, ip: string, messageTypes: Set<string>): Session {
    const session = new Session(socket, ip, messageTypes, this.context);
    this.sessions.add(session);
    this.watched.add(session);
    return session;
  }

  /** SessionOwner: the socket closed; what is still queued on the session runs on without us. */
  closed(session: Session): void {
    this.sessions.delete(session);
    this.watched.delete(session);
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
        this.watched.delete(session);
        session.evict(deadline.code, deadline.reason);
        break;
      }
      if (!pending) this.watched.delete(session);
    }
  }
}
