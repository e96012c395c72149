import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AuthError } from '../auth/auth-error';
import { firstFrameToken, handshakeToken } from '../auth/token-sources';
import { TokenVerifier } from '../auth/token-verifier';
import { UserConnections } from '../auth/user-connections';
import { AppConfig } from '../config/app-config';
import { frames } from '../protocol/chat.protocol';
import { ChatError } from '../protocol/chat-error';
import { AuthCloseReason, CloseCode } from '../protocol/close-codes';
import { ErrorCode } from '../protocol/error-code';
import { toErrorFrame } from '../protocol/error-frame';
import type { Principal } from '../protocol/principal';
import { RpcError, RpcErrorCode, RpcMessageType, rpcFrames } from '../protocol/rpc.protocol';
import { SERVER_VERSION } from '../server-version';
import { rpcCorrelationIdOf } from './message-parser';
import type { AdmissionPool } from './handshake-guard';
import type { Session } from './session';

/** A connection authenticated at the upgrade: its principal and the per-user slot it holds. */
export interface HandshakeIdentity {
  principal: Principal;
  slot: string;
}

/**
 * What the upgrade may go on with: `identity` when the request carried a valid token, none when
 * it carried no token (or AUTH_MODE=none), or the HTTP status to refuse it with.
 */
export type HandshakeOutcome =
  { ok: true; identity?: HandshakeIdentity } | { ok: false; status: 401 | 429 };

const log = new Logger('Authentication');

/**
 * Authentication of connections under AUTH_MODE=jwt: the token at the upgrade or in the first
 * frame, `refresh`, and the per-user connection count. Why a token was refused goes to the debug
 * log only (the reason, never the token); the client learns 401, 1008 or `invalid_token`.
 */
@Injectable()
export class SessionAuthenticator {
  /** The per-user slot each authenticated session holds, released when it closes. */
  private readonly slots = new WeakMap<Session, { userId: string; slot: string }>();

  constructor(
    private readonly config: AppConfig,
    private readonly verifier: TokenVerifier,
    @Inject(UserConnections) private readonly users: UserConnections,
  ) {}

  /** AUTH_MODE=jwt: every session must be authenticated before anything it sends is handled. */
  get required(): boolean {
    return this.config.AUTH_MODE === 'jwt';
  }

  /** The admission pool of an upgrade: unauthenticated when AUTH_MODE=jwt and it carries no token. */
  poolOf(request: Pick<IncomingMessage, 'headers' | 'url'>): AdmissionPool {
    if (!this.required) return 'user';
    const found = handshakeToken(request, { queryToken: this.config.AUTH_QUERY_TOKEN });
    return found.kind === 'absent' ? 'unauthenticated' : 'user';
  }

  /** Checks the token an upgrade request carries and counts the user's connection. */
  async handshake(request: Pick<IncomingMessage, 'headers' | 'url'>): Promise<HandshakeOutcome> {
    if (!this.required) return { ok: true };
    const found = handshakeToken(request, { queryToken: this.config.AUTH_QUERY_TOKEN });
    if (found.kind === 'absent') return { ok: true };
    if (found.kind === 'invalid') {
      log.debug(`Handshake refused: unusable credential in the ${found.source}`);
      return { ok: false, status: 401 };
    }
    const principal = await this.verified(found.token, `handshake (${found.source})`);
    if (!principal) return { ok: false, status: 401 };
    const slot = randomUUID();
    if (!(await this.acquire(principal.userId, slot))) return { ok: false, status: 429 };
    return { ok: true, identity: { principal, slot } };
  }

  /** Gives a session the identity of its upgrade; it is authenticated from its first frame on. */
  attach(session: Session, identity: HandshakeIdentity): void {
    session.principal = identity.principal;
    this.slots.set(session, { userId: identity.principal.userId, slot: identity.slot });
  }

  /** An upgrade that counted a user's connection did not complete: the count is given back. */
  abandon(identity: HandshakeIdentity): void {
    void this.release(identity.principal.userId, identity.slot);
  }

  /**
   * Seed 003's first frame: the text `Bearer <jwt>`. True when the session is now authenticated;
   * otherwise it was closed (1008 for anything but a valid token, 1013 when `admit` finds no free
   * connection slot for a user, 4503 over the per-user cap).
   */
  async firstFrame(
    session: Session,
    text: string | undefined,
    admit: () => boolean = () => true,
  ): Promise<boolean> {
    const token = text === undefined ? undefined : firstFrameToken(text);
    if (token === undefined) log.debug('First frame refused: not `Bearer <jwt>`');
    const principal = token === undefined ? undefined : await this.verified(token, 'first frame');
    if (!session.isOpen) return false;
    if (!principal) {
      if (token === undefined && text !== undefined) this.refuseCall(session, text);
      session.evict(CloseCode.PolicyViolation, AuthCloseReason.AuthenticationFailed);
      return false;
    }
    if (!admit()) {
      log.debug('Connection refused after its first frame: MAX_CONNECTIONS are open');
      session.evict(CloseCode.TryAgainLater, AuthCloseReason.ServerFull);
      return false;
    }
    const slot = randomUUID();
    if (!(await this.acquire(principal.userId, slot))) {
      session.evict(CloseCode.TooManyConnectionsForUser, AuthCloseReason.TooManyConnectionsForUser);
      return false;
    }
    this.attach(session, { principal, slot });
    // The client closed while the count was taken: the close listener ran before the slot was
    // known, so it is given back here.
    if (!session.isOpen) {
      this.closed(session);
      return false;
    }
    session.sendFrame(this.authFrame(session));
    return true;
  }

  /**
   * `{type:"refresh", token}`: a new token for the same user replaces the principal (its rooms and
   * expiry). True when it did; otherwise the client got `invalid_token` and the grace runs on.
   */
  async refresh(session: Session, data: unknown): Promise<boolean> {
    const token = (data as { token?: unknown } | null)?.token;
    const current = session.principal;
    let next: Principal | undefined;
    if (typeof token === 'string' && current) {
      try {
        next = await this.verifier.verifyRefresh(current, token);
      } catch (error) {
        log.debug(`Refresh refused: ${reasonOf(error)}`);
      }
    } else {
      log.debug('Refresh refused: no token string');
    }
    if (!next || next.expiresAt === undefined) {
      const error = new ChatError(ErrorCode.InvalidToken, 'the token was not accepted');
      session.sendError(toErrorFrame(error, log));
      return false;
    }
    session.principal = next;
    session.sendFrame(frames.refreshed(next.expiresAt));
    return true;
  }

  /**
   * A first frame that is an `rpc` call instead of a token is answered `unauthenticated`, with its
   * correlation id, before the close: the caller learns why its call failed.
   */
  private refuseCall(session: Session, text: string): void {
    const correlationId = rpcCorrelationIdOf(text);
    if (correlationId === undefined || !session.handles(RpcMessageType.Rpc)) return;
    const error = new RpcError(
      RpcErrorCode.Unauthenticated,
      'authenticate first: send `Bearer <jwt>` as the first frame',
    );
    session.sendFrame(rpcFrames.error(correlationId, error));
  }

  /** The `auth` frame of an authenticated session (without identity under AUTH_MODE=none). */
  authFrame(session: Session) {
    const principal = session.principal;
    return frames.auth(
      SERVER_VERSION,
      principal && { userId: principal.userId, expiresAt: principal.expiresAt },
    );
  }

  /** The session closed: its user holds one connection fewer. */
  closed(session: Session): void {
    const held = this.slots.get(session);
    if (!held) return;
    this.slots.delete(session);
    void this.release(held.userId, held.slot);
  }

  private async verified(token: string, where: string): Promise<Principal | undefined> {
    try {
      return await this.verifier.verify(token);
    } catch (error) {
      log.debug(`Token refused at the ${where}: ${reasonOf(error)}`);
      return undefined;
    }
  }

  /** A failing backend (Redis away) lets the connection in: the cap yields to availability. */
  private async acquire(userId: string, slot: string): Promise<boolean> {
    if (this.config.MAX_CONNECTIONS_PER_USER === 0) return true; // no cap: nothing counted
    try {
      const counted = await this.users.acquire(userId, slot, this.config.MAX_CONNECTIONS_PER_USER);
      if (!counted) log.debug('Connection refused: the user is at MAX_CONNECTIONS_PER_USER');
      return counted;
    } catch (error) {
      log.warn(`Per-user connection count unavailable (${errorName(error)}); connection allowed`);
      return true;
    }
  }

  private async release(userId: string, slot: string): Promise<void> {
    if (this.config.MAX_CONNECTIONS_PER_USER === 0) return;
    try {
      await this.users.release(userId, slot);
    } catch (error) {
      log.warn(`Per-user connection count not released (${errorName(error)})`);
    }
  }
}

/** The AuthError's reason; anything else is named by its class only (it may quote the token). */
function reasonOf(error: unknown): string {
  return error instanceof AuthError ? error.reason : `unexpected ${errorName(error)}`;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
