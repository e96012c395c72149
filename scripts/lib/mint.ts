import { decodeJwt, SignJWT } from 'jose';
import { AppConfig } from '../../src/config/app-config';
import { HMAC_ALGORITHMS, listedAlgorithms } from '../../src/config/jwt-settings';
import {
  ID_PATTERN,
  ID_PATTERN_TEXT,
  ROOM_PATTERN,
  ROOM_PATTERN_TEXT,
} from '../../src/protocol/ids';

export const MINT_USAGE = `Usage: JWT_SECRET=... npm run token -- --sub ID [options]

Mints a development token signed with JWT_SECRET and prints it.
  --sub ID             the user (the token's sub)
  --user-id ID         the user as seed 003's user_id claim, instead of --sub
  --rooms PATTERNS     comma-separated room patterns the user may enter (* matches any run)
  --publish PATTERNS   comma-separated room patterns the user may publish into
  --ttl SPAN           lifetime: 90s, 30m, 1h, or seconds (default 1h; at most JWT_MAX_LIFETIME_S)
  --aud AUDIENCE       the aud claim (default JWT_AUDIENCE)
  --iss ISSUER         the iss claim (default JWT_ISSUER)
IDs are ${ID_PATTERN_TEXT}; patterns ${ROOM_PATTERN_TEXT}.`;

export interface MintOptions {
  subject: { claim: 'sub' | 'user_id'; id: string };
  rooms?: string[];
  publish?: string[];
  ttl: string;
  audience?: string;
  issuer?: string;
}

const VALUE_OPTIONS = new Set([
  '--sub',
  '--user-id',
  '--rooms',
  '--publish',
  '--ttl',
  '--aud',
  '--iss',
]);
const TTL =
  /^\d+(\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks))?$/i;

/** The options, or the reason the arguments are wrong. Repeated --rooms/--publish add up. */
export function parseMintArgs(argv: readonly string[]): MintOptions | string {
  const values = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!VALUE_OPTIONS.has(arg)) return `unknown argument ${arg}`;
    const value = argv[++i];
    if (value === undefined) return `${arg} needs a value`;
    values.set(arg, [...(values.get(arg) ?? []), value]);
  }
  const single = (name: string): string | undefined => values.get(name)?.at(-1);
  const sub = single('--sub');
  const userId = single('--user-id');
  if ((sub === undefined) === (userId === undefined))
    return 'give exactly one of --sub and --user-id';
  const id = (sub ?? userId) as string;
  if (!ID_PATTERN.test(id)) return `the user must be ${ID_PATTERN_TEXT}`;
  const options: MintOptions = {
    subject: { claim: sub !== undefined ? 'sub' : 'user_id', id },
    ttl: single('--ttl') ?? '1h',
    audience: single('--aud'),
    issuer: single('--iss'),
  };
  if (!TTL.test(options.ttl)) return `--ttl must be like 90s, 30m or 1h, or seconds`;
  for (const [name, key] of [
    ['--rooms', 'rooms'],
    ['--publish', 'publish'],
  ] as const) {
    const given = values.get(name);
    if (given === undefined) continue;
    const patterns = given
      .flatMap((list) => list.split(','))
      .map((p) => p.trim())
      .filter(Boolean);
    const bad = patterns.find((pattern) => !ROOM_PATTERN.test(pattern));
    if (bad !== undefined) return `${name}: ${JSON.stringify(bad)} must be ${ROOM_PATTERN_TEXT}`;
    options[key] = patterns;
  }
  return options;
}

/**
 * Signs the token with JWT_SECRET, with the first HMAC algorithm JWT_ALGORITHMS accepts (HS256
 * when it names none), and JWT_AUDIENCE / JWT_ISSUER unless the options override them, so that
 * the token verifies against a server started with the same environment.
 */
export async function mintToken(options: MintOptions, config: AppConfig): Promise<string> {
  if (config.JWT_SECRET === '') throw new Error('JWT_SECRET is not set');
  const hmac: readonly string[] = HMAC_ALGORITHMS;
  const alg = listedAlgorithms(config).find((name) => hmac.includes(name)) ?? 'HS256';
  const ttl = /^\d+$/.test(options.ttl) ? `${options.ttl}s` : options.ttl;
  const claims = {
    [options.subject.claim]: options.subject.id,
    ...(options.rooms && { rooms: options.rooms }),
    ...(options.publish && { publish: options.publish }),
  };
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(ttl);
  const audience = options.audience ?? (config.JWT_AUDIENCE || undefined);
  const issuer = options.issuer ?? (config.JWT_ISSUER || undefined);
  if (audience !== undefined) jwt.setAudience(audience);
  if (issuer !== undefined) jwt.setIssuer(issuer);
  const token = await jwt.sign(new TextEncoder().encode(config.JWT_SECRET));
  const { iat = 0, exp = 0 } = decodeJwt(token);
  if (exp - iat > config.JWT_MAX_LIFETIME_S) {
    throw new Error(
      `--ttl ${options.ttl} is longer than JWT_MAX_LIFETIME_S (${config.JWT_MAX_LIFETIME_S} s): ` +
        'the server would refuse the token',
    );
  }
  return token;
}
