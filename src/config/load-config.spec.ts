import { generateKeyPairSync } from 'node:crypto';
import { AppConfig } from './app-config';
import { acceptedAlgorithms } from './jwt-settings';
import { ConfigError, loadConfig } from './load-config';

const SECRET = 'a-development-secret-of-32-bytes!';
function pem(
  type: 'rsa' | 'ec' | 'ed25519',
  options: { modulusLength?: number; namedCurve?: string } = {},
): string {
  const { publicKey } = generateKeyPairSync(type as 'rsa', {
    modulusLength: 2048,
    ...options,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return publicKey;
}
const RSA_PEM = pem('rsa');
const EC_PEM = pem('ec', { namedCurve: 'P-384' });
const ED_PEM = pem('ed25519');

/** The message loadConfig refuses the environment with. */
function refusal(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

/** A V8 heap limit of 512 MiB. */
const HEAP = 512 * 1_048_576;

describe('loadConfig', () => {
  it('uses the documented defaults for an empty environment', () => {
    expect({ ...loadConfig({}, HEAP) }).toEqual({
      PORT: 8080,
      HOST: '0.0.0.0',
      MAX_MESSAGE_LENGTH: 10000,
      MAX_PAYLOAD_BYTES: 65536,
      MAX_EVENT_BYTES: 262144,
      HEARTBEAT_INTERVAL_MS: 30000,
      SHUTDOWN_TIMEOUT_MS: 10000,
      JOIN_TIMEOUT_MS: 10000,
      CLOSE_TIMEOUT_MS: 5000,
      RATE_LIMIT_PER_SECOND: 20,
      RATE_LIMIT_BURST: 40,
      ABUSE_ERRORS_MAX: 20,
      ABUSE_WINDOW_MS: 5000,
      MAX_BUFFERED_BYTES: 1048576,
      MAX_INBOUND_QUEUE: 64,
      PRESENCE_MAX_USERS: 100,
      PRESENCE_CACHE_MS: 1000,
      PRESENCE_COST: 5,
      SWITCH_COST: 5,
      JOIN_LEAVE_MAX_MEMBERS: 200,
      JOIN_LEAVE_BURST: 20,
      PRESENCE_DIFF_MAX_USERS: 1000,
      PRESENCE_DIFF_INTERVAL_MS: 1000,
      MAX_CONNECTIONS: 20000,
      MAX_CONNECTIONS_PER_IP: 1000,
      MAX_HTTP_CONNECTIONS: 44000,
      HTTP_MAX_PIPELINED: 8,
      HTTP_HEADERS_TIMEOUT_MS: 10000,
      HTTP_REQUEST_TIMEOUT_MS: 10000,
      TRUST_PROXY: false,
      TRUSTED_PROXIES: '127.0.0.0/8,::1,fdaa::/16',
      FLY_APP_NAME: '',
      ALLOWED_ORIGINS: '',
      REDIS_URL: '',
      REDIS_CLUSTER_NODES: '',
      REDIS_KEY_PREFIX: 'chat:',
      REDIS_SHARDED_PUBSUB: false,
      PRESENCE_TTL_MS: 30000,
      HISTORY_SIZE: 100,
      HISTORY_TTL_MS: 86400000,
      HISTORY_MAX_LIMIT: 300,
      HISTORY_MAX_ANSWER_BYTES: 1048576,
      HISTORY_ANSWERS_MAX_BYTES: Math.floor(HEAP / 20),
      HISTORY_BYTES_PER_TOKEN: 16384,
      RECOVERY_MAX: 300,
      MAX_ROOMS_PER_CONNECTION: 128,
      HISTORY_MAX_ROOMS: 10000,
      HISTORY_MAX_BYTES: HEAP / 4,
      HISTORY_ROOM_MAX_BYTES: 262144,
      IDEMPOTENCY_WINDOW_MS: 300000,
      RPC_REQUEST_STREAM: 'stream:requests',
      RPC_CONSUMER_GROUP: 'rpc_group',
      RPC_DEAD_LETTER_STREAM: 'stream:requests:dlq',
      RPC_REPLY_PREFIX: 'list:response:',
      RPC_RESPONSE_TTL_S: 60,
      RPC_VISIBILITY_TIMEOUT_MS: 30000,
      RPC_MAX_DELIVERIES: 5,
      RPC_DEDUP_WINDOW_MS: 300000,
      RPC_DEDUP_MAX_REPLY_BYTES: 65536,
      RPC_CONCURRENCY: 100,
      RPC_MAX_BYTES_IN_FLIGHT: 4194304,
      RPC_DEAD_LETTER_MAXLEN: 10000,
      AUTH_MODE: 'none',
      JWT_SECRET: '',
      JWT_PUBLIC_KEY: '',
      JWT_JWKS_URL: '',
      JWT_JWKS_TIMEOUT_MS: 5000,
      JWT_JWKS_MAX_BYTES: 1048576,
      JWT_JWKS_COOLDOWN_MS: 30000,
      JWT_JWKS_MAX_AGE_MS: 600000,
      JWT_JWKS_STALE_MS: 86400000,
      JWT_ALGORITHMS: '',
      JWT_ISSUER: '',
      JWT_AUDIENCE: '',
      AUTH_CLOCK_TOLERANCE_MS: 5000,
      JWT_MAX_LIFETIME_S: 86400,
      AUTH_QUERY_TOKEN: false,
      AUTH_TIMEOUT_MS: 5000,
      MAX_UNAUTHENTICATED: 2000,
      MAX_UNAUTHENTICATED_PER_IP: 200,
      AUTH_DEFAULT_ROOMS: '',
      AUTH_REFRESH_GRACE_MS: 25000,
      MAX_CONNECTIONS_PER_USER: 100,
      API_KEY: '',
      LOG_LEVEL: 'log',
      LOG_FORMAT: 'text',
    });
  });

  /** A cluster's seeds, with the bridge's streams in one slot. */
  const CLUSTER = {
    REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis://:pw@10.0.0.2:7001',
    RPC_REQUEST_STREAM: '{rpc}:requests',
    RPC_DEAD_LETTER_STREAM: '{rpc}:requests:dlq',
  };

  it('turns sharded pub/sub on by default on a cluster, and lets it be turned off', () => {
    expect(loadConfig(CLUSTER, HEAP).REDIS_SHARDED_PUBSUB).toBe(true);
    const off = { ...CLUSTER, REDIS_SHARDED_PUBSUB: 'false' };
    expect(loadConfig(off, HEAP).REDIS_SHARDED_PUBSUB).toBe(false);
    expect(loadConfig({ REDIS_URL: 'redis://h:6379' }, HEAP).REDIS_SHARDED_PUBSUB).toBe(false);
  });

  it('refuses REDIS_URL and REDIS_CLUSTER_NODES together, and a seed without a port', () => {
    const both = { REDIS_URL: 'redis://h:6379', REDIS_CLUSTER_NODES: 'h:7000' };
    expect(() => loadConfig(both, HEAP)).toThrow(/set one of them, not both/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'h' }, HEAP)).toThrow(
      /REDIS_CLUSTER_NODES=\(not shown\): REDIS_CLUSTER_NODES must be comma-separated host:port/,
    );
  });

  it('refuses on a cluster bridge streams without one shared hash tag, and keeps one Redis as it was', () => {
    expect(() => loadConfig({ ...CLUSTER, RPC_REQUEST_STREAM: '' }, HEAP)).toThrow(
      /RPC_REQUEST_STREAM="stream:requests": on a Redis Cluster \(REDIS_CLUSTER_NODES\) it must carry a hash tag/,
    );
    expect(() => loadConfig({ ...CLUSTER, RPC_REQUEST_STREAM: 'rpc:{}:requests' }, HEAP)).toThrow(
      /RPC_REQUEST_STREAM="rpc:\{\}:requests": on a Redis Cluster/,
    );
    expect(() => loadConfig({ ...CLUSTER, RPC_DEAD_LETTER_STREAM: '' }, HEAP)).toThrow(
      /RPC_DEAD_LETTER_STREAM="stream:requests:dlq": on a Redis Cluster \(REDIS_CLUSTER_NODES\) it must carry RPC_REQUEST_STREAM's hash tag \{rpc\}/,
    );
    expect(() =>
      loadConfig({ ...CLUSTER, RPC_DEAD_LETTER_STREAM: '{rpc2}:requests:dlq' }, HEAP),
    ).toThrow(/must carry RPC_REQUEST_STREAM's hash tag \{rpc\}/);
    const tagged = { ...CLUSTER, RPC_REQUEST_STREAM: 'b:{x}', RPC_DEAD_LETTER_STREAM: 'dlq:{x}:y' };
    expect(loadConfig(tagged, HEAP).RPC_DEAD_LETTER_STREAM).toBe('dlq:{x}:y');
    expect(loadConfig({ REDIS_URL: 'redis://h:6379' }, HEAP).RPC_REQUEST_STREAM).toBe(
      'stream:requests',
    );
  });

  it.each([
    ['true', true],
    ['1', true],
    ['YES', true],
    ['false', false],
    ['0', false],
  ])('reads TRUST_PROXY=%s as %s', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).TRUST_PROXY).toBe(expected);
  });

  it('accepts a comma-separated list of origins', () => {
    const origins = 'https://app.example.com, http://localhost:3000';
    expect(loadConfig({ ALLOWED_ORIGINS: origins }).ALLOWED_ORIGINS).toBe(origins);
  });

  it('reads every setting from the environment', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      MAX_MESSAGE_LENGTH: '50',
      MAX_PAYLOAD_BYTES: '4096',
      HEARTBEAT_INTERVAL_MS: '100',
      SHUTDOWN_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'json',
    });
    expect(config).toBeInstanceOf(AppConfig);
    expect(config).toMatchObject({ PORT: 9000, MAX_PAYLOAD_BYTES: 4096, LOG_FORMAT: 'json' });
  });

  it('defaults MAX_HTTP_CONNECTIONS to twice MAX_CONNECTIONS plus MAX_UNAUTHENTICATED', () => {
    expect(loadConfig({ MAX_CONNECTIONS: '300' }).MAX_HTTP_CONNECTIONS).toBe(660);
    expect(
      loadConfig({ MAX_CONNECTIONS: '300', MAX_HTTP_CONNECTIONS: '450' }).MAX_HTTP_CONNECTIONS,
    ).toBe(450);
  });

  it('defaults MAX_UNAUTHENTICATED_PER_IP to a tenth of MAX_UNAUTHENTICATED, at least one', () => {
    expect(loadConfig({ MAX_UNAUTHENTICATED: '300' }).MAX_UNAUTHENTICATED_PER_IP).toBe(30);
    expect(loadConfig({ MAX_CONNECTIONS: '5' }).MAX_UNAUTHENTICATED_PER_IP).toBe(1);
    expect(
      loadConfig({ MAX_UNAUTHENTICATED: '300', MAX_UNAUTHENTICATED_PER_IP: '7' })
        .MAX_UNAUTHENTICATED_PER_IP,
    ).toBe(7);
  });

  it('defaults MAX_UNAUTHENTICATED to a tenth of MAX_CONNECTIONS, at least one', () => {
    expect(loadConfig({ MAX_CONNECTIONS: '300' }).MAX_UNAUTHENTICATED).toBe(30);
    expect(loadConfig({ MAX_CONNECTIONS: '5' }).MAX_UNAUTHENTICATED).toBe(1);
    expect(
      loadConfig({ MAX_CONNECTIONS: '300', MAX_UNAUTHENTICATED: '7' }).MAX_UNAUTHENTICATED,
    ).toBe(7);
  });

  it('accepts addresses and CIDR ranges of either family as TRUSTED_PROXIES', () => {
    const proxies = '10.0.0.0/8, fdaa::/16,::1, 192.0.2.7';
    expect(loadConfig({ TRUSTED_PROXIES: proxies }).TRUSTED_PROXIES).toBe(proxies);
  });

  it('defaults HISTORY_ANSWERS_MAX_BYTES to 5% of the heap limit, at least one full answer', () => {
    expect(loadConfig({}, HEAP).HISTORY_ANSWERS_MAX_BYTES).toBe(Math.floor(HEAP / 20));
    expect(loadConfig({}, 8 * 1_048_576).HISTORY_ANSWERS_MAX_BYTES).toBe(1_048_576);
  });

  it('refuses a HISTORY_ANSWERS_MAX_BYTES below HISTORY_MAX_ANSWER_BYTES', () => {
    const env = { HISTORY_ANSWERS_MAX_BYTES: '4096', HISTORY_MAX_ANSWER_BYTES: '8192' };
    expect(() => loadConfig(env, HEAP)).toThrow(
      /HISTORY_ANSWERS_MAX_BYTES=4096: must not be below HISTORY_MAX_ANSWER_BYTES \(8192\)/,
    );
  });

  it('defaults HISTORY_MAX_BYTES to a quarter of the heap limit', () => {
    expect(loadConfig({}, HEAP).HISTORY_MAX_BYTES).toBe(128 * 1_048_576);
    expect(loadConfig({}, 2 * HEAP).HISTORY_MAX_BYTES).toBe(256 * 1_048_576);
  });

  it('refuses a HISTORY_MAX_BYTES above half the heap limit, naming the ceiling', () => {
    expect(() => loadConfig({ HISTORY_MAX_BYTES: String(300 * 1_048_576) }, HEAP)).toThrow(
      /HISTORY_MAX_BYTES=314572800: must not exceed 268435456, 50% of the 512 MiB heap limit/,
    );
    expect(loadConfig({ HISTORY_MAX_BYTES: String(256 * 1_048_576) }, HEAP).HISTORY_MAX_BYTES).toBe(
      256 * 1_048_576,
    );
  });

  it('leaves HISTORY_MAX_BYTES unchecked with Redis, where history is not in the heap', () => {
    const env = { HISTORY_MAX_BYTES: String(300 * 1_048_576), REDIS_URL: 'redis://localhost' };
    expect(loadConfig(env, HEAP).HISTORY_MAX_BYTES).toBe(300 * 1_048_576);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '' }).PORT).toBe(8080);
  });

  it('refuses an RPC_REPLY_PREFIX that could name a key of the server or one of its streams', () => {
    expect(() => loadConfig({ RPC_REPLY_PREFIX: 'chat:' })).toThrow(
      /RPC_REPLY_PREFIX="chat:": must not overlap REDIS_KEY_PREFIX/,
    );
    expect(() => loadConfig({ RPC_REPLY_PREFIX: 'ch' })).toThrow(/must not overlap/);
    expect(() => loadConfig({ RPC_REPLY_PREFIX: 'stream:' })).toThrow(
      /must not name RPC_REQUEST_STREAM \("stream:requests"\)/,
    );
    expect(loadConfig({ RPC_REPLY_PREFIX: 'replies:' }).RPC_REPLY_PREFIX).toBe('replies:');
  });

  it('refuses a message cost above RATE_LIMIT_BURST, which could never be paid', () => {
    expect(() => loadConfig({ RATE_LIMIT_BURST: '4' })).toThrow(
      /PRESENCE_COST=5: must not exceed RATE_LIMIT_BURST \(4\)/,
    );
    expect(() =>
      loadConfig({ RATE_LIMIT_BURST: '4', PRESENCE_COST: '4', SWITCH_COST: '1' }),
    ).not.toThrow();
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '80.5'],
    ['MAX_MESSAGE_LENGTH', '0'],
    ['MAX_PAYLOAD_BYTES', '12kb'],
    ['HEARTBEAT_INTERVAL_MS', '-5'],
    ['SHUTDOWN_TIMEOUT_MS', 'soon'],
    ['LOG_LEVEL', 'loud'],
    ['LOG_FORMAT', 'xml'],
    ['TRUST_PROXY', 'maybe'],
    ['TRUST_PROXY', 'constructor'],
    ['ALLOWED_ORIGINS', 'app.example.com'],
    ['ALLOWED_ORIGINS', 'https://a.example.com;https://b.example.com'],
    ['RATE_LIMIT_PER_SECOND', '0'],
    ['RATE_LIMIT_BURST', 'x'],
    ['ABUSE_ERRORS_MAX', '0'],
    ['MAX_BUFFERED_BYTES', '10'],
    ['MAX_CONNECTIONS', '0'],
    ['MAX_CONNECTIONS_PER_IP', '-1'],
    ['JOIN_TIMEOUT_MS', '1s'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_URL', 'http://redis'],
    ['REDIS_KEY_PREFIX', 'has space'],
    ['REDIS_KEY_PREFIX', 'chat:{tag}:'],
    ['PRESENCE_TTL_MS', '10'],
    ['PRESENCE_MAX_USERS', '0'],
    ['PRESENCE_CACHE_MS', '-1'],
    ['PRESENCE_COST', '0'],
    ['SWITCH_COST', '1.5'],
    ['JOIN_LEAVE_MAX_MEMBERS', '0'],
    ['PRESENCE_DIFF_INTERVAL_MS', '5'],
    ['AUTH_MODE', 'oauth'],
    ['JWT_JWKS_URL', 'ftp://id.example.com/jwks'],
    ['AUTH_CLOCK_TOLERANCE_MS', '-1'],
    ['AUTH_QUERY_TOKEN', 'sometimes'],
    ['AUTH_TIMEOUT_MS', '0'],
    ['JWT_JWKS_TIMEOUT_MS', '0'],
    ['JWT_JWKS_MAX_BYTES', '10'],
    ['JWT_MAX_LIFETIME_S', '0'],
    ['MAX_UNAUTHENTICATED', '0'],
    ['AUTH_DEFAULT_ROOMS', 'team 1'],
    ['AUTH_REFRESH_GRACE_MS', 'long'],
    ['MAX_CONNECTIONS_PER_USER', '-1'],
    ['MAX_HTTP_CONNECTIONS', '0'],
    ['RPC_REQUEST_STREAM', 'has space'],
    ['RPC_CONSUMER_GROUP', 'x'.repeat(201)],
    ['RPC_DEAD_LETTER_STREAM', 'tab\there'],
    ['RPC_RESPONSE_TTL_S', '0'],
    ['RPC_VISIBILITY_TIMEOUT_MS', '50'],
    ['RPC_MAX_DELIVERIES', '0'],
    ['RPC_DEDUP_WINDOW_MS', '999'],
    ['RPC_DEDUP_MAX_REPLY_BYTES', '-1'],
    ['IDEMPOTENCY_WINDOW_MS', '-1'],
    ['IDEMPOTENCY_WINDOW_MS', '86400001'],
    ['RPC_CONCURRENCY', '0'],
    ['RPC_MAX_BYTES_IN_FLIGHT', '1000'],
    ['RPC_DEAD_LETTER_MAXLEN', '0'],
    ['HTTP_MAX_PIPELINED', '0'],
    ['HTTP_HEADERS_TIMEOUT_MS', '10'],
    ['HTTP_REQUEST_TIMEOUT_MS', 'never'],
    ['TRUSTED_PROXIES', 'fly'],
    ['TRUSTED_PROXIES', '10.0.0.0/33'],
    ['TRUSTED_PROXIES', '10.0.0.1,,::1'],
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  describe('on Fly (FLY_APP_NAME set)', () => {
    it("trusts Fly's proxy for the client address without configuration", () => {
      const config = loadConfig({ FLY_APP_NAME: 'pixide-chat' });
      expect(config.TRUST_PROXY).toBe(true);
      expect(config.TRUSTED_PROXIES).toBe('172.16.0.0/12');
    });

    it('keeps TRUST_PROXY and TRUSTED_PROXIES the environment gives', () => {
      const config = loadConfig({
        FLY_APP_NAME: 'pixide-chat',
        TRUST_PROXY: 'false',
        TRUSTED_PROXIES: '10.0.0.1',
      });
      expect(config.TRUST_PROXY).toBe(false);
      expect(config.TRUSTED_PROXIES).toBe('10.0.0.1');
    });
  });

  describe('with AUTH_MODE=jwt', () => {
    it('needs a key source, naming the three variables', () => {
      const message = refusal({ AUTH_MODE: 'jwt' });
      expect(message).toMatch(
        /AUTH_MODE=jwt needs exactly one of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL/,
      );
      expect(message).toContain('none is set');
    });

    it('on Fly, also gives the command that sets the secrets', () => {
      const message = refusal({ AUTH_MODE: 'jwt', FLY_APP_NAME: 'pixide-chat' });
      expect(message).toContain('none is set');
      expect(message).toContain('fly secrets set JWT_SECRET=');
      expect(refusal({ AUTH_MODE: 'jwt' })).not.toContain('fly secrets');
    });

    it('refuses two key sources, naming both', () => {
      const message = refusal({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET, JWT_PUBLIC_KEY: RSA_PEM });
      expect(message).toContain('JWT_SECRET and JWT_PUBLIC_KEY are all set');
    });

    it.each([
      ['JWT_SECRET', { JWT_SECRET: SECRET }],
      ['JWT_PUBLIC_KEY', { JWT_PUBLIC_KEY: RSA_PEM }],
      ['JWT_JWKS_URL', { JWT_JWKS_URL: 'https://id.example.com/.well-known/jwks.json' }],
    ])('starts with %s alone', (_name, env) => {
      expect(loadConfig({ AUTH_MODE: 'jwt', ...env }).AUTH_MODE).toBe('jwt');
    });

    it('refuses a short JWT_SECRET without showing it', () => {
      const message = refusal({ AUTH_MODE: 'jwt', JWT_SECRET: 'hunter2-hunter2' });
      expect(message).toContain('JWT_SECRET must be at least 32 bytes');
      expect(message).not.toContain('hunter2');
    });

    it.each([
      ['not a key at all', 'hello', 'is not a PEM public key'],
      [
        'a private key',
        '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----',
        'holds a private key',
      ],
      [
        'a short RSA key',
        pem('rsa', { modulusLength: 1024 }),
        'is an RSA key shorter than 2048 bits',
      ],
      [
        'an EC key on secp256k1',
        pem('ec', { namedCurve: 'secp256k1' }),
        'is an EC key on an unsupported curve',
      ],
    ])('refuses a JWT_PUBLIC_KEY that is %s, without quoting it', (_what, value, reason) => {
      const message = refusal({ AUTH_MODE: 'jwt', JWT_PUBLIC_KEY: value });
      expect(message).toContain(`JWT_PUBLIC_KEY ${reason}`);
      expect(message).not.toContain('MII');
    });

    it.each([
      ['none', { JWT_SECRET: SECRET, JWT_ALGORITHMS: 'HS256,none' }, 'must not contain none'],
      [
        'an unknown name',
        { JWT_SECRET: SECRET, JWT_ALGORITHMS: 'HS1024' },
        '"HS1024" is not one of',
      ],
      [
        'RS256 with a secret',
        { JWT_SECRET: SECRET, JWT_ALGORITHMS: 'RS256' },
        'RS256 does not fit the key in JWT_SECRET',
      ],
      [
        'HS256 with a public key',
        { JWT_PUBLIC_KEY: RSA_PEM, JWT_ALGORITHMS: 'HS256' },
        'HS256 does not fit the key in JWT_PUBLIC_KEY',
      ],
      [
        'HS256 with a JWKS',
        { JWT_JWKS_URL: 'https://id.example.com/jwks', JWT_ALGORITHMS: 'HS256' },
        'HS256 does not fit the key in JWT_JWKS_URL',
      ],
      [
        'ES256 with a P-384 key',
        { JWT_PUBLIC_KEY: EC_PEM, JWT_ALGORITHMS: 'ES256' },
        'ES256 does not fit the key in JWT_PUBLIC_KEY (it takes ES384)',
      ],
      [
        'RS256 with an Ed25519 key',
        { JWT_PUBLIC_KEY: ED_PEM, JWT_ALGORITHMS: 'RS256' },
        'it takes EdDSA',
      ],
    ])('refuses JWT_ALGORITHMS with %s', (_what, env, reason) => {
      const message = refusal({ AUTH_MODE: 'jwt', ...env });
      expect(message).toContain('JWT_ALGORITHMS');
      expect(message).toContain(reason);
    });

    it.each([
      ['a secret', { JWT_SECRET: SECRET }, ['HS256', 'HS384', 'HS512']],
      [
        'an RSA key',
        { JWT_PUBLIC_KEY: RSA_PEM },
        ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
      ],
      ['a P-384 key', { JWT_PUBLIC_KEY: EC_PEM }, ['ES384']],
      ['an Ed25519 key', { JWT_PUBLIC_KEY: ED_PEM }, ['EdDSA']],
      [
        'a JWKS',
        { JWT_JWKS_URL: 'https://id.example.com/jwks' },
        ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
      ],
      [
        'JWT_ALGORITHMS',
        { JWT_SECRET: SECRET, JWT_ALGORITHMS: ' HS512 , HS384' },
        ['HS512', 'HS384'],
      ],
    ])('accepts by default the algorithms of %s', (_what, env, algorithms) => {
      expect(acceptedAlgorithms(loadConfig({ AUTH_MODE: 'jwt', ...env }))).toEqual(algorithms);
    });

    it('refuses an AUTH_DEFAULT_ROOMS entry that is not a room pattern, naming it', () => {
      const message = refusal({ AUTH_DEFAULT_ROOMS: 'public:*, team{1}' });
      expect(message).toContain('AUTH_DEFAULT_ROOMS entry "team{1}"');
    });
  });

  it('never shows the value of JWT_SECRET, even when its type is wrong', () => {
    const message = refusal({ JWT_SECRET: SECRET, PORT: 'abc' });
    expect(message).not.toContain(SECRET);
  });

  it('ignores the key sources with AUTH_MODE=none', () => {
    expect(
      loadConfig({ JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://x.example/jwks' }).AUTH_MODE,
    ).toBe('none');
  });

  it('accepts an API_KEY of 16 or more printable characters', () => {
    const key = 'k3y_0f-sixteen+chars/=';
    expect(loadConfig({ API_KEY: key }).API_KEY).toBe(key);
  });

  it.each([
    ['too short', 'short-key-15char'.slice(0, 15)],
    ['with a space', 'an api key with spaces'],
    ['with a non-ASCII character', 'schlüssel-0123456789'],
  ])('refuses an API_KEY %s without showing it', (_what, key) => {
    const message = refusal({ API_KEY: key });
    expect(message).toContain('API_KEY=(not shown): API_KEY must be 16 to 512 printable ASCII');
    expect(message).not.toContain(key);
  });
});
