import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { AppConfig } from '../config/app-config';
import { clientIp, ipKey, isTrustedProxy, normalizeIp, untrustedProxyHeader } from './client-ip';

export type Admission =
  { admitted: true; ip: string } | { admitted: false; status: 403 | 429 | 503 };

/**
 * The pool a connection is counted in: `user` (authenticated at the handshake, or AUTH_MODE=none)
 * up to MAX_CONNECTIONS, `unauthenticated` (AUTH_MODE=jwt without a token at the handshake, until
 * its first frame authenticates it) up to MAX_UNAUTHENTICATED. The two are apart so that sockets
 * that never authenticate cannot take the slots users need.
 */
export type AdmissionPool = 'user' | 'unauthenticated';

/** What `admitSocket` decided: counted under `ip` (undefined for a trusted proxy), or refused. */
export type SocketAdmission = { admitted: true; ip?: string } | { admitted: false };

/**
 * Decides whether a connection may open, at two moments:
 * - `admitSocket`, when a TCP connection is accepted (HttpGuard): a socket that is not yet a
 *   WebSocket counts toward MAX_CONNECTIONS_PER_IP under its peer address, so idle or slow HTTP
 *   sockets cannot add to what one address holds (a trusted proxy's sockets are many clients
 *   and are counted by the client address at the upgrade instead);
 * - `admit`, at the HTTP upgrade, before any WebSocket exists: the Origin allowlist (403), the
 *   cap of the connection's pool (503) and the per-IP cap (429).
 * Counts what it admitted until `release` / `releaseSocket`; `promote` moves a connection that
 * authenticated by its first frame from the unauthenticated pool to the users'. IPv6 clients
 * count per /64.
 */
@Injectable()
export class HandshakeGuard {
  /** Connections in the users' pool (MAX_CONNECTIONS). */
  private open = 0;
  /** Connections in the unauthenticated pool (MAX_UNAUTHENTICATED). */
  private unauthenticated = 0;
  /** Unauthenticated connections per client key, each at most MAX_UNAUTHENTICATED_PER_IP. */
  private readonly unauthenticatedPerIp = new Map<string, number>();
  /** WebSockets and not-yet-upgraded sockets per client key (ipKey). */
  private readonly perIp = new Map<string, number>();
  private readonly origins: ReadonlySet<string>;
  private readonly logger = new Logger(HandshakeGuard.name);
  private warnedUntrustedHeader = false;

  constructor(private readonly config: AppConfig) {
    this.origins = new Set(
      config.ALLOWED_ORIGINS.split(',')
        .map((origin) => origin.trim().toLowerCase())
        .filter((origin) => origin.length > 0),
    );
  }

  /** Checks a handshake and, when it passes, counts it as open in `pool`. */
  admit(request: IncomingMessage, pool: AdmissionPool = 'user'): Admission {
    // Browsers always send Origin; non-browser clients (no ambient cookies) may leave it out.
    const origin = request.headers.origin?.toLowerCase();
    if (this.origins.size > 0 && origin !== undefined && !this.origins.has(origin)) {
      return { admitted: false, status: 403 };
    }
    if (this.isFull(pool)) return { admitted: false, status: 503 };
    this.warnOnceOfUntrustedHeader(request);
    const ip = ipKey(clientIp(request, this.config));
    const waiting = this.unauthenticatedPerIp.get(ip) ?? 0;
    // One address holds a share of the unauthenticated pool: a few cannot fill it for everyone.
    if (pool === 'unauthenticated' && waiting >= this.config.MAX_UNAUTHENTICATED_PER_IP) {
      return { admitted: false, status: 429 };
    }
    if (!this.take(ip)) return { admitted: false, status: 429 };
    if (pool === 'user') this.open += 1;
    else {
      this.unauthenticated += 1;
      this.unauthenticatedPerIp.set(ip, waiting + 1);
    }
    return { admitted: true, ip };
  }

  /** Forgets one admitted connection of `ip` in `pool` (closed, or its handshake failed). */
  release(ip: string, pool: AdmissionPool = 'user'): void {
    if (pool === 'user') this.open = Math.max(0, this.open - 1);
    else this.leaveUnauthenticated(ip);
    this.give(ip);
  }

  /**
   * Moves a connection that has just authenticated from the unauthenticated pool to the users';
   * false (nothing moved) when the users' pool is full.
   */
  promote(ip: string): boolean {
    if (this.isFull('user')) return false;
    this.leaveUnauthenticated(ip);
    this.open += 1;
    return true;
  }

  private leaveUnauthenticated(ip: string): void {
    this.unauthenticated = Math.max(0, this.unauthenticated - 1);
    const waiting = (this.unauthenticatedPerIp.get(ip) ?? 1) - 1;
    if (waiting > 0) this.unauthenticatedPerIp.set(ip, waiting);
    else this.unauthenticatedPerIp.delete(ip);
  }

  /** Counts a freshly accepted TCP socket toward its peer's per-IP cap; refuses it over the cap. */
  admitSocket(socket: Socket): SocketAdmission {
    const peer = socket.remoteAddress;
    if (peer === undefined || isTrustedProxy(peer, this.config)) return { admitted: true };
    const ip = ipKey(peer);
    return this.take(ip) ? { admitted: true, ip } : { admitted: false };
  }

  /** Forgets a socket counted by `admitSocket` (closed, or handed over to `admit` at the upgrade). */
  releaseSocket(ip: string): void {
    this.give(ip);
  }

  /** Connections in the users' pool. */
  get openCount(): number {
    return this.open;
  }

  /** Connections that have not authenticated yet. */
  get unauthenticatedCount(): number {
    return this.unauthenticated;
  }

  private isFull(pool: AdmissionPool): boolean {
    return pool === 'user'
      ? this.open >= this.config.MAX_CONNECTIONS
      : this.unauthenticated >= this.config.MAX_UNAUTHENTICATED;
  }

  /** Number of client IPs (IPv6: /64s) holding at least one WebSocket or not-yet-upgraded socket. */
  get ipCount(): number {
    return this.perIp.size;
  }

  /**
   * A proxy header from a peer that is not a trusted proxy is ignored (it could be anyone's); the
   * first one is logged, since it usually means TRUSTED_PROXIES misses the real proxy and every
   * client behind it is counted as that proxy. Once per process: a client can send it at will.
   */
  private warnOnceOfUntrustedHeader(request: IncomingMessage): void {
    if (this.warnedUntrustedHeader) return;
    const header = untrustedProxyHeader(request, this.config);
    if (header === undefined) return;
    this.warnedUntrustedHeader = true;
    this.logger.warn(
      `Ignored ${header} from ${normalizeIp(request.socket.remoteAddress) ?? 'an unknown peer'}: the peer is ` +
        `not in TRUSTED_PROXIES (${this.config.TRUSTED_PROXIES}), so per-IP limits count the peer ` +
        `itself (logged once)`,
    );
  }

  private take(ip: string): boolean {
    const held = this.perIp.get(ip) ?? 0;
    if (held >= this.config.MAX_CONNECTIONS_PER_IP) return false;
    this.perIp.set(ip, held + 1);
    return true;
  }

  private give(ip: string): void {
    const held = (this.perIp.get(ip) ?? 1) - 1;
    if (held > 0) this.perIp.set(ip, held);
    else this.perIp.delete(ip);
  }
}
