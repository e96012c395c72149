import { Logger } from '@nestjs/common';
import {
  createLocalJWKSet,
  errors,
  FlattenedJWSInput,
  JSONWebKeySet,
  JWSHeaderParameters,
  JWTVerifyGetKey,
} from 'jose';
import { boundedGet, FetchFailed, FetchLimits } from './bounded-fetch';

export interface JwksKeySetOptions extends FetchLimits {
  /** Least time between two fetches, failed or not, whatever the `kid`s asked for. */
  cooldownMs: number;
  /** Age after which the key set is fetched again before use (the cached one stays usable). */
  maxAgeMs: number;
  /** Age after which a key set that could not be fetched again is no longer used. */
  staleMs: number;
}

/** `fresh`: fetched within maxAgeMs; `stale`: older, still used; `none`: no usable key set. */
export type KeySetState = 'fresh' | 'stale' | 'none';

export interface KeySetStatus {
  state: KeySetState;
  /** Epoch ms of the last successful fetch. */
  fetchedAt?: number;
  /** Why the last fetch failed, when it did (safe to show: no body, no token). */
  lastError?: string;
}

/** No usable key set: never fetched, every fetch failed, or older than `staleMs`. */
export class KeySetUnavailable extends Error {
  override readonly name = 'KeySetUnavailable';
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;
type Fetcher = (url: URL, limits: FetchLimits) => Promise<Buffer>;

const log = new Logger('JwksKeySet');

/**
 * A JWKS fetched from the issuer, used by `kid` through jose's local key set. Fails safe:
 * - a fetch is bounded in time and bytes as a whole (`boundedGet`);
 * - at most one fetch runs at a time, and at most one starts per `cooldownMs`, whether the last
 *   one failed or not and whatever `kid` a token names: made-up `kid`s or an issuer answering 500
 *   cost one fetch per cooldown, not one per login;
 * - the last good key set keeps verifying while later fetches fail, for `staleMs` after it was
 *   fetched; only then are tokens refused as `key unavailable`.
 * A failed fetch keeps the previous key set. The lookup throws jose's key errors, or
 * KeySetUnavailable (TokenVerifier's `key unavailable`).
 */
export class JwksKeySet {
  private keys: LocalKeySet | undefined;
  private fetchedAt: number | undefined;
  /** Start of the last fetch (epoch ms), successful or not; the cooldown counts from it. */
  private attemptedAt: number | undefined;
  private inFlight: Promise<void> | undefined;
  private lastError: string | undefined;

  /** The lookup jose's `jwtVerify` calls with a token's protected header. */
  readonly getKey: JWTVerifyGetKey = (header, token) => this.keyFor(header, token);

  constructor(
    private readonly url: URL,
    private readonly options: JwksKeySetOptions,
    private readonly fetcher: Fetcher = boundedGet,
  ) {}

  /** What the key set is now, for readiness: no fetch, no wait. */
  status(now = Date.now()): KeySetStatus {
    const state: KeySetState =
      !this.keys || this.fetchedAt === undefined || now - this.fetchedAt > this.options.staleMs
        ? 'none'
        : now - this.fetchedAt > this.options.maxAgeMs
          ? 'stale'
          : 'fresh';
    return {
      state,
      ...(this.fetchedAt !== undefined && { fetchedAt: this.fetchedAt }),
      ...(this.lastError !== undefined && { lastError: this.lastError }),
    };
  }

  /**
   * The status, after one fetch when there is no usable key set and the cooldown allows it (so a
   * readiness probe can find the keys before the first login); waits at most JWT_JWKS_TIMEOUT_MS.
   */
  async check(): Promise<KeySetStatus> {
    const now = Date.now();
    if (this.status(now).state === 'none') await this.refresh(now);
    return this.status();
  }

  private async keyFor(header: JWSHeaderParameters, token: FlattenedJWSInput) {
    const now = Date.now();
    // A stale key set keeps serving while it is fetched again; only without one do logins wait.
    const state = this.status(now).state;
    if (state === 'none') await this.refresh(now);
    else if (state === 'stale') void this.refresh(now);
    const keys = this.usable(Date.now());
    try {
      return await keys(header, token);
    } catch (error) {
      // An unknown `kid` may be a rotation: wait for the fetch in flight, or start one if the
      // cooldown allows, then one more try if that brought a new key set.
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      if (this.keys === keys && !this.inFlight && !this.mayFetch(Date.now())) throw error;
      await this.refresh(Date.now());
      if (this.keys === keys) throw error;
      return this.usable(Date.now())(header, token);
    }
  }

  private usable(now: number): LocalKeySet {
    if (this.keys && this.status(now).state !== 'none') return this.keys;
    throw new KeySetUnavailable('no usable key set');
  }

  private mayFetch(now: number): boolean {
    return this.attemptedAt === undefined || now - this.attemptedAt >= this.options.cooldownMs;
  }

  /** Waits for the fetch in flight, or starts one if the cooldown allows; never throws. */
  private refresh(now: number): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (!this.mayFetch(now)) return Promise.resolve();
    this.attemptedAt = now;
    this.inFlight = this.fetchOnce().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async fetchOnce(): Promise<void> {
    try {
      const body = await this.fetcher(this.url, this.options);
      const keys = createLocalJWKSet(parseKeySet(body));
      this.keys = keys;
      this.fetchedAt = Date.now();
      this.lastError = undefined;
    } catch (error) {
      const why =
        error instanceof FetchFailed || error instanceof errors.JOSEError
          ? error.message
          : error instanceof Error
            ? error.name
            : 'failed';
      if (this.lastError !== why) log.warn(`JWKS fetch failed: ${why}`);
      this.lastError = why;
    }
  }
}

function parseKeySet(body: Buffer): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new FetchFailed('body is not JSON');
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new FetchFailed('body is not a JWKS (no `keys` list)');
  return parsed as JSONWebKeySet;
}
