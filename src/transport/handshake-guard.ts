import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { AppConfig } from '../config/app-config';
import { clientIp } from './client-ip';

export type Admission =
  { admitted: true; ip: string } | { admitted: false; status: 403 | 429 | 503 };

/**
 * Decides at the HTTP upgrade, before any WebSocket exists, whether a connection may open: the
 * Origin allowlist (403), the instance cap (503) and the per-IP cap (429). Counts what it admitted
 * until `release`.
 */
@Injectable()
export class HandshakeGuard {
  private open = 0;
  private readonly perIp = new Map<string, number>();
  private readonly origins: ReadonlySet<string>;

  constructor(private readonly config: AppConfig) {
    this.origins = new Set(
      config.ALLOWED_ORIGINS.split(',')
        .map((origin) => origin.trim().toLowerCase())
        .filter((origin) => origin.length > 0),
    );
  }

  /** Checks a handshake and, when it passes, counts it as open. */
  admit(request: IncomingMessage): Admission {
    // Browsers always send Origin; non-browser clients (no ambient cookies) may leave it out.
    const origin = request.headers.origin?.toLowerCase();
    if (this.origins.size > 0 && origin !== undefined && !this.origins.has(origin)) {
      return { admitted: false, status: 403 };
    }
    if (this.open >= this.config.MAX_CONNECTIONS) return { admitted: false, status: 503 };
    const ip = clientIp(request, this.config.TRUST_PROXY);
    const fromIp = this.perIp.get(ip) ?? 0;
    if (fromIp >= this.config.MAX_CONNECTIONS_PER_IP) return { admitted: false, status: 429 };
    this.open += 1;
    this.perIp.set(ip, fromIp + 1);
    return { admitted: true, ip };
  }

  /** Forgets one admitted connection of `ip` (closed, or its handshake failed). */
  release(ip: string): void {
    this.open = Math.max(0, this.open - 1);
    const fromIp = (this.perIp.get(ip) ?? 1) - 1;
    if (fromIp > 0) this.perIp.set(ip, fromIp);
    else this.perIp.delete(ip);
  }

  get openCount(): number {
    return this.open;
  }

  /** Number of client IPs with at least one open connection. */
  get ipCount(): number {
    return this.perIp.size;
  }
}
