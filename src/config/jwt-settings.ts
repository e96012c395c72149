import { createPublicKey, KeyObject } from 'node:crypto';
import { ROOM_PATTERN, ROOM_PATTERN_TEXT } from '../protocol/ids';
import type { AppConfig } from './app-config';
import { onFly } from './fly-platform';

/**
 * The JWT settings derived from AppConfig: which key source is configured, which algorithms it
 * accepts, and the cross-field rules loadConfig checks at start. Kept here (not in src/auth/) so
 * that a bad combination stops the start with a message naming the variable, before any module
 * is built; src/auth/ reads the same functions, so the two cannot disagree.
 */

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const;
const RSA_PSS_ALGORITHMS = ['PS256', 'PS384', 'PS512'] as const;
const EC_ALGORITHMS = ['ES256', 'ES384', 'ES512'] as const;
const EDDSA_ALGORITHMS = ['EdDSA'] as const;
export const ASYMMETRIC_ALGORITHMS = [
  ...RSA_ALGORITHMS,
  ...EC_ALGORITHMS,
  ...EDDSA_ALGORITHMS,
] as const;
const KNOWN_ALGORITHMS: ReadonlySet<string> = new Set([
  ...HMAC_ALGORITHMS,
  ...ASYMMETRIC_ALGORITHMS,
]);

/** RFC 7518 §3.2 wants an HMAC key at least as long as the hash; 32 bytes covers HS256. */
export const MIN_SECRET_BYTES = 32;
const MIN_RSA_BITS = 2048;

const CURVE_ALGORITHMS: Readonly<Record<string, readonly string[]>> = {
  prime256v1: ['ES256'],
  secp384r1: ['ES384'],
  secp521r1: ['ES512'],
};

export type KeySourceKind = 'secret' | 'public key' | 'jwks';

export const KEY_SOURCE_VARIABLES = {
  secret: 'JWT_SECRET',
  'public key': 'JWT_PUBLIC_KEY',
  jwks: 'JWT_JWKS_URL',
} as const satisfies Record<KeySourceKind, keyof AppConfig>;

/** What a secret and a JWKS can verify; a public key's algorithms depend on its type. */
const FIXED_ALGORITHMS: Readonly<Record<'secret' | 'jwks', readonly string[]>> = {
  secret: HMAC_ALGORITHMS,
  jwks: ASYMMETRIC_ALGORITHMS,
};

/** The key sources that are set, in the order of KEY_SOURCE_VARIABLES. */
export function keySourcesOf(config: AppConfig): KeySourceKind[] {
  const kinds = Object.keys(KEY_SOURCE_VARIABLES) as KeySourceKind[];
  return kinds.filter((kind) => config[KEY_SOURCE_VARIABLES[kind]] !== '');
}

/** JWT_PUBLIC_KEY as PEM text: env files and secret stores often carry `\n` for the newlines. */
export function publicKeyPem(config: AppConfig): string {
  return config.JWT_PUBLIC_KEY.replace(/\\n/g, '\n');
}

/**
 * Parses JWT_PUBLIC_KEY (SPKI, PKCS#1 or an X.509 certificate). Throws an Error whose message
 * says what is wrong without quoting the key; a private key is refused, not silently reduced to
 * its public half, since it should not sit in the server's environment.
 */
export function parsePublicKey(config: AppConfig): KeyObject {
  const pem = publicKeyPem(config);
  if (/PRIVATE KEY-----/.test(pem)) {
    throw new Error('holds a private key; give the public key');
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error('is not a PEM public key or certificate');
  }
  algorithmsOfKey(key);
  return key;
}

/** The algorithms a public key can verify; throws for key types and sizes JWT cannot use. */
export function algorithmsOfKey(key: KeyObject): readonly string[] {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      if ((details.modulusLength ?? 0) < MIN_RSA_BITS) {
        throw new Error(`is an RSA key shorter than ${MIN_RSA_BITS} bits`);
      }
      return key.asymmetricKeyType === 'rsa' ? RSA_ALGORITHMS : RSA_PSS_ALGORITHMS;
    case 'ec': {
      const algorithms = CURVE_ALGORITHMS[details.namedCurve ?? ''];
      if (!algorithms) throw new Error(`is an EC key on an unsupported curve`);
      return algorithms;
    }
    case 'ed25519':
    case 'ed448':
      return EDDSA_ALGORITHMS;
    default:
      throw new Error(`is a ${key.asymmetricKeyType ?? 'unknown'} key, which JWT cannot verify`);
  }
}

/** JWT_ALGORITHMS as a list: entries trimmed, empty entries dropped. */
export function listedAlgorithms(config: AppConfig): string[] {
  return splitList(config.JWT_ALGORITHMS);
}

/**
 * The algorithms a token may be signed with: JWT_ALGORITHMS when set, else every algorithm of
 * the key's type. Assumes a configuration that passed authConfigErrors.
 */
export function acceptedAlgorithms(config: AppConfig): string[] {
  const listed = listedAlgorithms(config);
  if (listed.length > 0) return listed;
  const [kind] = keySourcesOf(config);
  if (kind === 'public key') return [...algorithmsOfKey(parsePublicKey(config))];
  return [...FIXED_ALGORITHMS[kind]];
}

/** AUTH_DEFAULT_ROOMS as a list of patterns: an all-comma value such as `,` is the empty list. */
export function defaultRoomPatterns(config: AppConfig): string[] {
  return splitList(config.AUTH_DEFAULT_ROOMS);
}

/**
 * The rules that span several settings or need parsing, one message per problem, each starting
 * with the variable to fix. Secrets and keys are never quoted.
 */
export function authConfigErrors(config: AppConfig): string[] {
  const errors: string[] = [];
  const sources = keySourcesOf(config);
  const names = sources.map((kind) => KEY_SOURCE_VARIABLES[kind]);
  if (config.AUTH_MODE === 'jwt' && sources.length !== 1) {
    const found = sources.length === 0 ? 'none is set' : `${names.join(' and ')} are all set`;
    const fly =
      sources.length === 0 && onFly(config)
        ? `; on Fly set it as a secret, e.g. fly secrets set JWT_SECRET=$(openssl rand -base64 48) API_KEY=$(openssl rand -hex 32)`
        : '';
    errors.push(
      `AUTH_MODE=jwt needs exactly one of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL (${found})${fly}`,
    );
  }
  if (config.JWT_SECRET !== '' && Buffer.byteLength(config.JWT_SECRET) < MIN_SECRET_BYTES) {
    errors.push(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes (the value is not shown)`);
  }
  let keyAlgorithms: readonly string[] | undefined;
  if (config.JWT_PUBLIC_KEY !== '') {
    try {
      keyAlgorithms = algorithmsOfKey(parsePublicKey(config));
    } catch (error) {
      errors.push(`JWT_PUBLIC_KEY ${(error as Error).message}`);
    }
  }
  if (sources.length === 1) {
    const allowed = sources[0] === 'public key' ? keyAlgorithms : FIXED_ALGORITHMS[sources[0]];
    if (allowed) errors.push(...algorithmErrors(listedAlgorithms(config), allowed, names[0]));
  }
  for (const pattern of defaultRoomPatterns(config)) {
    if (!ROOM_PATTERN.test(pattern)) {
      errors.push(
        `AUTH_DEFAULT_ROOMS entry ${JSON.stringify(pattern)} must be ${ROOM_PATTERN_TEXT}`,
      );
    }
  }
  return errors;
}

function algorithmErrors(
  listed: readonly string[],
  allowed: readonly string[],
  source: string,
): string[] {
  const errors: string[] = [];
  for (const algorithm of listed) {
    if (algorithm.toLowerCase() === 'none') {
      errors.push('JWT_ALGORITHMS must not contain none: unsigned tokens are never accepted');
    } else if (!KNOWN_ALGORITHMS.has(algorithm)) {
      errors.push(
        `JWT_ALGORITHMS entry ${JSON.stringify(algorithm)} is not one of ${[...KNOWN_ALGORITHMS].join(', ')}`,
      );
    } else if (!allowed.includes(algorithm)) {
      // HS* with a public key is the classic key-confusion attack: the public key becomes the secret.
      errors.push(
        `JWT_ALGORITHMS entry ${algorithm} does not fit the key in ${source} (it takes ${allowed.join(', ')})`,
      );
    }
  }
  return errors;
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}
