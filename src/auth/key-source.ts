import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, JWTVerifyGetKey } from 'jose';
import { AppConfig } from '../config/app-config';
import { keySourcesOf, KeySourceKind, parsePublicKey } from '../config/jwt-settings';

/** What jose verifies with: the HMAC secret's bytes, a public key, or a JWKS lookup by `kid`. */
export type VerificationKey =
  | { kind: 'secret'; key: Uint8Array }
  | { kind: 'public key'; key: KeyObject }
  | { kind: 'jwks'; key: JWTVerifyGetKey };

export interface KeySourceOptions {
  /**
   * Least time between two JWKS fetches. A token with an unknown `kid` triggers a fetch (the
   * issuer may have rotated its keys) unless one happened this recently: a client sending made-up
   * `kid`s cannot make the server hammer the JWKS endpoint. Default 30 s.
   */
  jwksCooldownMs?: number;
  /** Age after which the cached JWKS is fetched again before use. Default 10 min. */
  jwksMaxAgeMs?: number;
}

export const JWKS_COOLDOWN_MS = 30_000;
export const JWKS_MAX_AGE_MS = 600_000;
const JWKS_FETCH_TIMEOUT_MS = 5_000;

/**
 * The key of the one configured key source (loadConfig has checked there is exactly one). The
 * JWKS is fetched lazily, on the first token, so a start does not depend on the issuer.
 */
export function createVerificationKey(
  config: AppConfig,
  options: KeySourceOptions = {},
): VerificationKey {
  const [kind]: KeySourceKind[] = keySourcesOf(config);
  switch (kind) {
    case 'secret':
      return { kind, key: new TextEncoder().encode(config.JWT_SECRET) };
    case 'public key':
      return { kind, key: parsePublicKey(config) };
    case 'jwks':
      return {
        kind,
        key: createRemoteJWKSet(new URL(config.JWT_JWKS_URL), {
          cooldownDuration: options.jwksCooldownMs ?? JWKS_COOLDOWN_MS,
          cacheMaxAge: options.jwksMaxAgeMs ?? JWKS_MAX_AGE_MS,
          timeoutDuration: JWKS_FETCH_TIMEOUT_MS,
        }),
      };
    default:
      throw new Error('AUTH_MODE=jwt needs one of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL');
  }
}
