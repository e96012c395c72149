import { errors, jwtVerify, JWTPayload, JWTVerifyOptions } from 'jose';
import { AppConfig } from '../config/app-config';
import { acceptedAlgorithms } from '../config/jwt-settings';
import { ID_PATTERN } from '../protocol/ids';
import { AuthError, AuthFailureReason } from './auth-error';
import { KeySetStatus, KeySetUnavailable } from './jwks-key-set';
import { createVerificationKey, KeySourceOptions, VerificationKey } from './key-source';
import type { Principal } from '../protocol/principal';
import { isPatternList } from './room-patterns';
import { MAX_TOKEN_LENGTH } from './token-sources';

/**
 * Verifies tokens with jose against the configured key source: signature with a pinned list of
 * algorithms (never `none`, never HMAC with a public key), `exp` required, `nbf`, and `iss` /
 * `aud` when configured, each within AUTH_CLOCK_TOLERANCE_MS; an `iat` in the future and a lifetime
 * (`exp` after `iat`, or after now without `iat`) over JWT_MAX_LIFETIME_S are refused. Every failure is an AuthError whose
 * reason is for the debug log; nothing here logs, and nothing thrown quotes the token.
 */
export class TokenVerifier {
  private readonly key: VerificationKey | undefined;
  private readonly options: JWTVerifyOptions;
  private readonly toleranceS: number;
  private readonly maxLifetimeS: number;

  constructor(config: AppConfig, keyOptions: KeySourceOptions = {}) {
    const enabled = config.AUTH_MODE === 'jwt';
    this.key = enabled ? createVerificationKey(config, keyOptions) : undefined;
    this.toleranceS = config.AUTH_CLOCK_TOLERANCE_MS / 1000;
    this.maxLifetimeS = config.JWT_MAX_LIFETIME_S;
    this.options = {
      algorithms: enabled ? acceptedAlgorithms(config) : [],
      requiredClaims: ['exp'],
      clockTolerance: config.AUTH_CLOCK_TOLERANCE_MS / 1000,
      ...(config.JWT_ISSUER !== '' && { issuer: config.JWT_ISSUER }),
      ...(config.JWT_AUDIENCE !== '' && { audience: config.JWT_AUDIENCE }),
    };
  }

  /** The principal a token names, or an AuthError. Under AUTH_MODE=none every token is refused. */
  async verify(token: string): Promise<Principal> {
    if (!this.key) throw new AuthError('auth disabled');
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new AuthError('malformed');
    let payload: JWTPayload;
    try {
      payload = (await this.verifyWithKey(this.key, token)).payload;
    } catch (error) {
      throw new AuthError(reasonOf(error, this.key.kind === 'jwks'));
    }
    this.checkLifetime(payload);
    return principalOf(payload);
  }

  /** The JWKS' state (fresh, stale, none) when the key source is a JWKS; undefined otherwise. */
  keySetStatus(): KeySetStatus | undefined {
    return this.key?.kind === 'jwks' ? this.key.key.status() : undefined;
  }

  /** As keySetStatus, fetching the key set first when none is usable (cooldown permitting). */
  async checkKeySet(): Promise<KeySetStatus | undefined> {
    return this.key?.kind === 'jwks' ? this.key.key.check() : undefined;
  }

  /** jose has checked that `exp` is a number in the future and `iat`, when present, a number. */
  private checkLifetime(payload: JWTPayload): void {
    const now = Date.now() / 1000;
    const { iat } = payload;
    if (typeof iat === 'number' && iat > now + this.toleranceS) {
      throw new AuthError('issued in the future');
    }
    const from = typeof iat === 'number' ? iat : now;
    if ((payload.exp as number) - from > this.maxLifetimeS + this.toleranceS) {
      throw new AuthError('lifetime too long');
    }
  }

  /**
   * A refresh: the new token passes every check of `verify` and names the same user as the
   * current principal. Returns the new principal, whose claims (rooms, expiry) replace the old.
   */
  async verifyRefresh(current: Principal, token: string): Promise<Principal> {
    const next = await this.verify(token);
    if (next.userId !== current.userId) throw new AuthError('other user');
    return next;
  }

  // jose's overloads take a key or a key lookup, not the union of the two.
  private verifyWithKey(key: VerificationKey, token: string) {
    return key.kind === 'jwks'
      ? jwtVerify(token, key.key.getKey, this.options)
      : jwtVerify(token, key.key, this.options);
  }
}

/** The user is `sub`, or seed 003's `user_id` when there is no `sub`; both must be valid ids. */
function principalOf(payload: JWTPayload): Principal {
  const userId = payload.sub !== undefined ? payload.sub : payload.user_id;
  if (typeof userId !== 'string' || !ID_PATTERN.test(userId)) throw new AuthError('bad subject');
  if (payload.rooms !== undefined && !isPatternList(payload.rooms)) {
    throw new AuthError('bad rooms claim');
  }
  if (payload.publish !== undefined && !isPatternList(payload.publish)) {
    throw new AuthError('bad publish claim');
  }
  return {
    userId,
    // requiredClaims makes jose refuse a token without a numeric exp.
    expiresAt: Math.round((payload.exp as number) * 1000),
    claims: deepFreeze(payload),
  };
}

function reasonOf(error: unknown, fromJwks: boolean): AuthFailureReason {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'exp') return error.reason === 'missing' ? 'missing exp' : 'malformed';
    if (error.claim === 'nbf' && error.reason === 'check_failed') return 'not yet valid';
    if (error.claim === 'iss') return 'wrong issuer';
    if (error.claim === 'aud') return 'wrong audience';
    return 'malformed';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (error instanceof errors.JWKSNoMatchingKey) return 'unknown key';
  if (error instanceof errors.JWKSMultipleMatchingKeys) return 'unknown key';
  if (error instanceof KeySetUnavailable) return 'key unavailable';
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported
  ) {
    return 'malformed';
  }
  // Anything else from the JWKS lookup is unexpected: treated as the key set failing.
  return fromJwks ? 'key unavailable' : 'malformed';
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
