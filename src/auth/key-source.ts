import type { KeyObject } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { keySourcesOf, KeySourceKind, parsePublicKey } from '../config/jwt-settings';
import { JwksKeySet } from './jwks-key-set';

/** What jose verifies with: the HMAC secret's bytes, a public key, or a JWKS looked up by `kid`. */
export type VerificationKey =
  | { kind: 'secret'; key: Uint8Array }
  | { kind: 'public key'; key: KeyObject }
  | { kind: 'jwks'; key: JwksKeySet };

/** Overrides of the JWKS timings, for tests; the configuration gives the rest. */
export interface KeySourceOptions {
  /** Least time between two JWKS fetches (JWT_JWKS_COOLDOWN_MS otherwise). */
  jwksCooldownMs?: number;
  /** Age after which the cached JWKS is fetched again (JWT_JWKS_MAX_AGE_MS otherwise). */
  jwksMaxAgeMs?: number;
}

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
        key: new JwksKeySet(new URL(config.JWT_JWKS_URL), {
          timeoutMs: config.JWT_JWKS_TIMEOUT_MS,
          maxBytes: config.JWT_JWKS_MAX_BYTES,
          cooldownMs: options.jwksCooldownMs ?? config.JWT_JWKS_COOLDOWN_MS,
          maxAgeMs: options.jwksMaxAgeMs ?? config.JWT_JWKS_MAX_AGE_MS,
          staleMs: config.JWT_JWKS_STALE_MS,
        }),
      };
    default:
      throw new Error('AUTH_MODE=jwt needs one of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL');
  }
}
