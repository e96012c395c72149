import { createSecretKey, KeyObject } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, JWK, JWTPayload, SignJWT } from 'jose';

/** An HMAC secret long enough for loadConfig (32 bytes or more). */
export const TEST_SECRET = 'test-secret-of-at-least-thirty-two-bytes!';

export interface TestKeyPair {
  alg: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as JWT_PUBLIC_KEY takes it. */
  publicPem: string;
}

/** A fresh key pair for an asymmetric algorithm (RS*, PS*, ES*, EdDSA; `crv` for Ed448). */
export async function testKeyPair(alg: string, crv?: string): Promise<TestKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair<KeyObject>(alg, {
    crv,
    extractable: true,
  });
  return { alg, privateKey, publicKey, publicPem: await exportSPKI(publicKey) };
}

/** The public half as a JWKS entry with its `kid`. */
export async function publicJwk(pair: TestKeyPair, kid: string): Promise<JWK> {
  return { ...(await exportJWK(pair.publicKey)), kid, alg: pair.alg, use: 'sig' };
}

export interface SignOptions {
  alg?: string;
  kid?: string;
  /** Seconds from now; `null` leaves `exp` out. Default 3600. */
  expiresIn?: number | null;
}

/** A signed compact JWT with the given claims; `exp` an hour from now unless told otherwise. */
export async function signToken(
  claims: JWTPayload,
  key: KeyObject | string,
  options: SignOptions = {},
): Promise<string> {
  const signingKey = typeof key === 'string' ? createSecretKey(Buffer.from(key)) : key;
  const alg = options.alg ?? (typeof key === 'string' ? 'HS256' : 'RS256');
  const jwt = new SignJWT(claims).setProtectedHeader({
    alg,
    typ: 'JWT',
    ...(options.kid !== undefined && { kid: options.kid }),
  });
  const expiresIn = options.expiresIn === undefined ? 3600 : options.expiresIn;
  if (expiresIn !== null) jwt.setExpirationTime(nowSeconds() + expiresIn);
  return jwt.sign(signingKey);
}

/** An `alg: none` token: header and claims with an empty signature, as the attack sends it. */
export function unsignedToken(claims: JWTPayload): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ exp: nowSeconds() + 3600, ...claims })}.`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
