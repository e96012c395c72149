import {
  IsBoolean,
  IsIn,
  IsInt,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateBy,
} from 'class-validator';
import * as ipaddr from 'ipaddr.js';

export const LOG_LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const AUTH_MODES = ['none', 'jwt'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** A Redis key or stream name: printable, no spaces. */
const REDIS_NAME = /^[\x21-\x7e]{1,200}$/;

/**
 * Every setting of the server, validated at start. The property names are the environment
 * variables, so a validation message names the variable to fix.
 */
export class AppConfig {
  /** TCP port shared by HTTP (health) and WebSocket upgrades; 0 picks a free port. */
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 8080;

  /** Interface to bind. */
  @IsString()
  @MinLength(1)
  HOST = '0.0.0.0';

  /** Longest `chat_message.content`, in characters (Unicode code points). */
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  MAX_MESSAGE_LENGTH = 10_000;

  /** Largest inbound WebSocket message in bytes; a larger one closes the connection with 1009. */
  @IsInt()
  @Min(1024)
  @Max(16 * 1024 * 1024)
  MAX_PAYLOAD_BYTES = 65_536;

  /**
   * Largest room event frame in bytes (UTF-8, as published: `{type:"event", ...}` with its params);
   * a larger event is refused with `invalid_params` on every path (socket RPC, HTTP API, bridge).
   */
  @IsInt()
  @Min(1024)
  @Max(16 * 1024 * 1024)
  MAX_EVENT_BYTES = 262_144;

  /** How often the server pings each client; a client that missed the previous pong is terminated. */
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  HEARTBEAT_INTERVAL_MS = 30_000;

  /** Budget for a graceful stop on SIGTERM/SIGINT, from the signal to the process exit. */
  @IsInt()
  @Min(100)
  @Max(600_000)
  SHUTDOWN_TIMEOUT_MS = 10_000;

  /** Time a connection has to join a room before it is closed with 1008. */
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  JOIN_TIMEOUT_MS = 10_000;

  /** Time a closing connection has to answer the close frame before its socket is destroyed. */
  @IsInt()
  @Min(10)
  @Max(600_000)
  CLOSE_TIMEOUT_MS = 5_000;

  /** Messages a connection may send per second, on average (token bucket refill rate). */
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  RATE_LIMIT_PER_SECOND = 20;

  /** Messages a connection may send at once before the rate applies (token bucket size). */
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  RATE_LIMIT_BURST = 40;

  /** Error frames a connection may cause within ABUSE_WINDOW_MS; one more closes it with 1008. */
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  ABUSE_ERRORS_MAX = 20;

  /** The sliding window of ABUSE_ERRORS_MAX. */
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  ABUSE_WINDOW_MS = 5_000;

  /** Outbound bytes queued for one socket beyond which it is closed with 1013 (slow consumer). */
  @IsInt()
  @Min(1024)
  @Max(1024 * 1024 * 1024)
  MAX_BUFFERED_BYTES = 1_048_576;

  /**
   * Inbound frames one connection may have waiting for its handlers; past it the server stops
   * reading the socket (TCP backpressure on the client) until half of them are handled.
   */
  @IsInt()
  @Min(2)
  @Max(100_000)
  MAX_INBOUND_QUEUE = 64;

  /** Users listed in a `presence` answer at most (the oldest first); `count` gives the total. */
  @IsInt()
  @Min(1)
  @Max(100_000)
  PRESENCE_MAX_USERS = 100;

  /**
   * A room's `presence` answer is served from a per-instance cache for this long, so a flood of
   * `presence` reads the store once per room per period; 0 reads it for every request.
   */
  @IsInt()
  @Min(0)
  @Max(60_000)
  PRESENCE_CACHE_MS = 1_000;

  /** Tokens of the rate bucket a `presence` message takes (a chat message takes one). */
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  PRESENCE_COST = 5;

  /** Tokens of the rate bucket a `switch_room` (and a `join`, which can switch too) takes. */
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  SWITCH_COST = 5;

  /**
   * Rooms with more members than this (cluster-wide users) announce joins and leaves as one
   * `presence_diff` per PRESENCE_DIFF_INTERVAL_MS instead of one `user_joined` / `user_left` each.
   */
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  JOIN_LEAVE_MAX_MEMBERS = 200;

  /**
   * A room with more joins and leaves than this within one PRESENCE_DIFF_INTERVAL_MS announces
   * them as `presence_diff` too, whatever its size, until an interval passes without any.
   */
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  JOIN_LEAVE_BURST = 20;

  /** Users one list (`joined`, `left`) of a `presence_diff` names at most; past it, `truncated`. */
  @IsInt()
  @Min(1)
  @Max(100_000)
  PRESENCE_DIFF_MAX_USERS = 1_000;

  /** Least time between two `presence_diff` frames of one room. */
  @IsInt()
  @Min(10)
  @Max(600_000)
  PRESENCE_DIFF_INTERVAL_MS = 1_000;

  /** Open WebSocket connections on this instance; more are refused with HTTP 503. */
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  MAX_CONNECTIONS = 20_000;

  /** Open WebSocket connections from one client IP; more are refused with HTTP 429. */
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  MAX_CONNECTIONS_PER_IP = 1_000;

  /** Open TCP connections on the port, of every kind (HTTP requests, handshakes, WebSockets); a
   * connection over it is closed as soon as it is accepted. Unset: 2 × (MAX_CONNECTIONS +
   * MAX_UNAUTHENTICATED), so that health checks still get through when both WebSocket pools are
   * full. Keep it below `ulimit -n`. */
  @IsInt()
  @Min(1)
  @Max(20_000_000)
  MAX_HTTP_CONNECTIONS = 44_000;

  /** Requests one socket may have in flight (received, response not yet sent); one more closes
   * the socket. Bounds what a client that pipelines requests and never reads can make us hold. */
  @IsInt()
  @Min(1)
  @Max(1_000)
  HTTP_MAX_PIPELINED = 8;

  /** A socket that has not sent complete request headers within this (from its accept, or from
   * its previous response) is closed. Covers sockets that never send a byte. */
  @IsInt()
  @Min(50)
  @Max(600_000)
  HTTP_HEADERS_TIMEOUT_MS = 10_000;

  /** A request whose body has not arrived in full within this of its headers is answered 408 and
   * its socket closed. */
  @IsInt()
  @Min(50)
  @Max(600_000)
  HTTP_REQUEST_TIMEOUT_MS = 10_000;

  /** Take the client IP from Fly-Client-IP / X-Forwarded-For (behind a proxy only). On Fly
   * (FLY_APP_NAME set) it defaults to true. */
  @IsBoolean()
  TRUST_PROXY = false;

  /** With TRUST_PROXY: comma-separated addresses and CIDR ranges of the proxies whose headers are
   * believed (loopback and Fly's private network by default; on Fly, Fly's proxy only:
   * FLY_PROXY_PEERS). `Fly-Client-IP` is read only from a socket whose peer is one of them;
   * `X-Forwarded-For` is read right to left, skipping them. */
  @IsString()
  @ValidateBy({
    name: 'isIpList',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && isIpList(value),
      defaultMessage: () =>
        'TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDR ranges',
    },
  })
  TRUSTED_PROXIES = '127.0.0.0/8,::1,fdaa::/16';

  /** The Fly.io app's name, set by Fly on its machines: turns on the Fly defaults of TRUST_PROXY
   * and TRUSTED_PROXIES (src/config/fly-platform.ts). */
  @IsString()
  FLY_APP_NAME = '';

  /** Comma-separated origins allowed to open WebSockets from a browser; empty allows any. */
  @IsString()
  @Matches(/^$|^\s*[a-z][a-z0-9+.-]*:\/\/[^\s,/]+\s*(,\s*[a-z][a-z0-9+.-]*:\/\/[^\s,/]+\s*)*$/i, {
    message:
      'ALLOWED_ORIGINS must be a comma-separated list of origins like https://app.example.com',
  })
  ALLOWED_ORIGINS = '';

  /** Redis server shared by the instances (`redis://[:password@]host:port[/db]`, `rediss://` for
   * TLS). Unset: one instance with in-memory state. */
  @IsString()
  @Matches(/^$|^rediss?:\/\/\S+$/, {
    message: 'REDIS_URL must be a redis:// or rediss:// URL, or empty for in-memory state',
  })
  REDIS_URL = '';

  /** Seeds of a Redis Cluster (`host:port` or `redis://[user:password@]host:port`, comma-separated),
   * instead of REDIS_URL: the server connects with ioredis' Cluster and finds the rest. */
  @IsString()
  @Matches(/^$|^\s*(rediss?:\/\/)?[^\s,/]+:\d{1,5}\s*(,\s*(rediss?:\/\/)?[^\s,/]+:\d{1,5}\s*)*$/, {
    message:
      'REDIS_CLUSTER_NODES must be comma-separated host:port seeds (or redis://[user:password@]host:port)',
  })
  REDIS_CLUSTER_NODES = '';

  /** Room channels over sharded pub/sub (SPUBLISH/SSUBSCRIBE: a publication reaches only the
   * shard owning its room). Unset: on with REDIS_CLUSTER_NODES, off with REDIS_URL. */
  @IsBoolean()
  REDIS_SHARDED_PUBSUB = false;

  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  @IsString()
  // No braces: every key is `<prefix>{<id>}:part`, so a prefix without them keeps deployments apart.
  @Matches(/^[A-Za-z0-9_.:-]{1,64}$/, {
    message: 'REDIS_KEY_PREFIX must be 1 to 64 characters of [A-Za-z0-9_.:-] (no braces)',
  })
  REDIS_KEY_PREFIX = 'chat:';

  /** Membership of an instance that stopped heartbeating (crashed, killed) expires within this. */
  @IsInt()
  @Min(300)
  @Max(3_600_000)
  PRESENCE_TTL_MS = 30_000;

  /** Publications kept per room for history and recovery; 0 turns history off. */
  @IsInt()
  @Min(0)
  @Max(10_000)
  HISTORY_SIZE = 100;

  /** A room's history (and position) is dropped this long after its newest publication. */
  @IsInt()
  @Min(1_000)
  @Max(30 * 86_400_000)
  HISTORY_TTL_MS = 86_400_000;

  /** Most publications one `history` request may ask for. */
  @IsInt()
  @Min(1)
  @Max(10_000)
  HISTORY_MAX_LIMIT = 300;

  /**
   * Bytes of frames one `history` answer carries at most: past them the oldest are left out and
   * the answer says `truncated: true` (the newest frame goes whatever its size). A backend's
   * request (a batch's calls together) carries at most this much in all.
   */
  @IsInt()
  @Min(1_024)
  @Max(67_108_864)
  HISTORY_MAX_ANSWER_BYTES = 1_048_576;

  /**
   * Bytes of `history` answers held at once for backend callers (HTTP API and bridge), all
   * requests together, from the read until the answer is sent; one request (a batch) holds at
   * most HISTORY_MAX_ANSWER_BYTES of it. A call that finds no room is answered `unavailable`,
   * `retryable: true`. Unset: HISTORY_ANSWERS_HEAP_SHARE of the V8 heap limit, at least
   * HISTORY_MAX_ANSWER_BYTES; less than HISTORY_MAX_ANSWER_BYTES stops the start.
   */
  @IsInt()
  @Min(1_024)
  @Max(Number.MAX_SAFE_INTEGER)
  HISTORY_ANSWERS_MAX_BYTES = 67_108_864;

  /**
   * A `history` answer takes one token of the rate bucket per this many bytes of frames it
   * carries (rounded up, at least one).
   */
  @IsInt()
  @Min(1_024)
  @Max(67_108_864)
  HISTORY_BYTES_PER_TOKEN = 16_384;

  /** Most publications a rejoin with `since` replays; a longer gap answers `recovered: false`. */
  @IsInt()
  @Min(1)
  @Max(10_000)
  RECOVERY_MAX = 300;

  /** Event rooms one connection may follow with `join_room`, besides its chat room. */
  @IsInt()
  @Min(1)
  @Max(100_000)
  MAX_ROOMS_PER_CONNECTION = 128;

  /** In memory: rooms whose history is kept at most; past it the least recently published goes. */
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  HISTORY_MAX_ROOMS = 10_000;

  /**
   * In memory: bytes of history kept at most, all rooms together (frames counted at two bytes a
   * character, plus a fixed overhead per publication); past it the least recently published rooms
   * lose their history (their next publication starts a new epoch). Unset: HISTORY_HEAP_SHARE of
   * the V8 heap limit; more than HISTORY_HEAP_MAX_SHARE of it stops the start.
   */
  @IsInt()
  @Min(1_048_576)
  @Max(Number.MAX_SAFE_INTEGER)
  HISTORY_MAX_BYTES = 268_435_456;

  /**
   * With Redis: bytes of one room's history stream kept at most (an entry counts its stored bytes
   * plus 64); past it the oldest entries are trimmed by the publishing script, the newest one
   * always kept. HISTORY_SIZE still bounds the count.
   */
  @IsInt()
  @Min(65_536)
  @Max(1024 * 1024 * 1024)
  HISTORY_ROOM_MAX_BYTES = 262_144;

  /**
   * A publication's idempotency key (a bridge or HTTP call's `correlation_id` or
   * `Idempotency-Key`, an RPC frame's `idempotency_key`, a chat message's `messageId`) is
   * remembered per room this long: the same key again within it publishes nothing and answers the
   * first publication's position. 0 turns idempotency off (every publish is made).
   */
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  IDEMPOTENCY_WINDOW_MS = 300_000;

  /** With Redis: the stream backends (seed 003's Django client) write RPC requests into. */
  @IsString()
  @Matches(REDIS_NAME, { message: 'RPC_REQUEST_STREAM must be 1 to 200 visible characters' })
  RPC_REQUEST_STREAM = 'stream:requests';

  /** The consumer group every instance reads RPC_REQUEST_STREAM in: each request goes to one. */
  @IsString()
  @Matches(REDIS_NAME, { message: 'RPC_CONSUMER_GROUP must be 1 to 200 visible characters' })
  RPC_CONSUMER_GROUP = 'rpc_group';

  /** Where requests that cannot be handled go, with the reason: invalid, or failed too often. */
  @IsString()
  @Matches(REDIS_NAME, { message: 'RPC_DEAD_LETTER_STREAM must be 1 to 200 visible characters' })
  RPC_DEAD_LETTER_STREAM = 'stream:requests:dlq';

  /**
   * The only names a bridge request's `reply_to` may have: its start. A request naming any other
   * key is dead-lettered unanswered, so no backend entry can make the bridge write a key the
   * server owns. Seed 003's Django client uses `list:response:<uuid>`.
   */
  @IsString()
  @Matches(REDIS_NAME, { message: 'RPC_REPLY_PREFIX must be 1 to 200 visible characters' })
  RPC_REPLY_PREFIX = 'list:response:';

  /** Seconds a reply list (`reply_to`) is kept after the reply is pushed, for a late reader. */
  @IsInt()
  @Min(1)
  @Max(86_400)
  RPC_RESPONSE_TTL_S = 60;

  /**
   * A request read but not acknowledged for this long (its instance died) is claimed by another
   * instance and handled there. Live instances keep their slow requests from being claimed.
   */
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  RPC_VISIBILITY_TIMEOUT_MS = 30_000;

  /** Deliveries of one request at most; one claimed again after that goes to the dead letters. */
  @IsInt()
  @Min(1)
  @Max(1_000)
  RPC_MAX_DELIVERIES = 5;

  /** A `correlation_id` handled within this is answered again with the stored reply, not rerun. */
  @IsInt()
  @Min(1_000)
  @Max(86_400_000)
  RPC_DEDUP_WINDOW_MS = 300_000;

  /**
   * Bytes of a reply the bridge keeps in a dedup record at most; a larger one is not kept (the
   * record is dropped once answered): a duplicate runs again, publishing nothing new.
   */
  @IsInt()
  @Min(0)
  @Max(16_777_216)
  RPC_DEDUP_MAX_REPLY_BYTES = 65_536;

  /** Requests from the stream one instance handles at once; it reads no more while they run. */
  @IsInt()
  @Min(1)
  @Max(10_000)
  RPC_CONCURRENCY = 100;

  /**
   * Payload bytes the bridge holds at once (read, not yet finished); it reads no more above it.
   * One entry is always read when nothing is held; a payload over MAX_PAYLOAD_BYTES never is.
   */
  @IsInt()
  @Min(1024)
  @Max(1024 * 1024 * 1024)
  RPC_MAX_BYTES_IN_FLIGHT = 4 * 1024 * 1024;

  /** Dead letters kept (about: `XADD MAXLEN ~`), each with its payload's first KiB only. */
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  RPC_DEAD_LETTER_MAXLEN = 10_000;

  /**
   * `none`: clients say who they are (the seed-000 protocol). `jwt`: every socket authenticates
   * with a signed token; production wants this.
   */
  @IsIn(AUTH_MODES)
  AUTH_MODE: AuthMode = 'none';

  /** HMAC secret of HS256/384/512 tokens, at least 32 bytes. With `jwt`, exactly one key source. */
  @IsString()
  JWT_SECRET = '';

  /**
   * PEM public key (SPKI, PKCS#1 or an X.509 certificate) of RS*, PS*, ES* or EdDSA tokens; `\n`
   * may stand for the newlines.
   */
  @IsString()
  JWT_PUBLIC_KEY = '';

  /** URL of a JWKS, fetched on first use, cached, and fetched again for an unknown `kid`. */
  @IsString()
  @Matches(/^$|^https?:\/\/\S+$/, { message: 'JWT_JWKS_URL must be an http:// or https:// URL' })
  JWT_JWKS_URL = '';

  /** Whole JWKS fetch (connect, headers and body) in milliseconds; a slower one is abandoned. */
  @IsInt()
  @Min(100)
  @Max(60_000)
  JWT_JWKS_TIMEOUT_MS = 5_000;

  /** Largest JWKS body read; a larger one is abandoned mid-stream, never buffered whole. */
  @IsInt()
  @Min(1_024)
  @Max(16_777_216)
  JWT_JWKS_MAX_BYTES = 1_048_576;

  /** Least time between two JWKS fetches, failed or not, whatever the tokens' `kid`s. */
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  JWT_JWKS_COOLDOWN_MS = 30_000;

  /** Age after which the key set is fetched again (the cached one serves meanwhile). */
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  JWT_JWKS_MAX_AGE_MS = 600_000;

  /** How long the last fetched key set keeps verifying tokens while the issuer cannot be reached. */
  @IsInt()
  @Min(0)
  @Max(2_592_000_000)
  JWT_JWKS_STALE_MS = 86_400_000;

  /** Comma-separated algorithms accepted; empty: every algorithm of the key's type. `none` never. */
  @IsString()
  JWT_ALGORITHMS = '';

  /** Required `iss` of every token; empty: not checked. */
  @IsString()
  JWT_ISSUER = '';

  /** Required `aud` of every token (one of its entries when it is a list); empty: not checked. */
  @IsString()
  JWT_AUDIENCE = '';

  /** Leeway for `exp` and `nbf` against clock skew between the token issuer and this server. */
  @IsInt()
  @Min(0)
  @Max(300_000)
  AUTH_CLOCK_TOLERANCE_MS = 5_000;

  /**
   * Longest token lifetime accepted in seconds: `exp` at most this after `iat` (after now when
   * there is no `iat`). An `iat` in the future beyond AUTH_CLOCK_TOLERANCE_MS is refused too.
   */
  @IsInt()
  @Min(60)
  @Max(31_536_000)
  JWT_MAX_LIFETIME_S = 86_400;

  /** Also accept the token as `?token=` on the upgrade URL (it may end up in proxy logs). */
  @IsBoolean()
  AUTH_QUERY_TOKEN = false;

  /** Time a socket opened without a token has to send its `Bearer <jwt>` first frame (else 1008). */
  @IsInt()
  @Min(100)
  @Max(600_000)
  AUTH_TIMEOUT_MS = 5_000;

  /**
   * Open sockets that have not authenticated yet (AUTH_MODE=jwt, no token at the handshake); one
   * more is refused with HTTP 503. They do not count toward MAX_CONNECTIONS, which stays for users.
   * Unset: 10% of MAX_CONNECTIONS (at least 1).
   */
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  MAX_UNAUTHENTICATED = 2_000;

  /**
   * Unauthenticated sockets one client address (IPv6: /64) may hold at once; one more is refused
   * with HTTP 429, so a few addresses cannot fill MAX_UNAUTHENTICATED. Unset: 10% of
   * MAX_UNAUTHENTICATED (at least 1).
   */
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  MAX_UNAUTHENTICATED_PER_IP = 200;

  /**
   * Comma-separated room patterns for tokens without a `rooms` claim; `*` matches any run of
   * characters. Empty (the default) or all commas: no pattern, only the user's own room, since a
   * pattern cannot tell a shared room from another user's own room (named by that user's id).
   */
  @IsString()
  AUTH_DEFAULT_ROOMS = '';

  /** Time after a token's `exp` to send a valid `refresh` before the close with 4001. */
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  AUTH_REFRESH_GRACE_MS = 25_000;

  /**
   * Open connections of one authenticated user (cluster-wide with REDIS_URL); one more is refused.
   * 0: no cap, and no connection is counted at all.
   */
  @IsInt()
  @Min(0)
  @Max(10_000_000)
  MAX_CONNECTIONS_PER_USER = 100;

  /**
   * Bearer key of the HTTP API (`POST /api/rpc`, for backends): 16 to 512 printable ASCII
   * characters without spaces. Unset: the API is off (404, as if absent).
   */
  @IsString()
  @Matches(/^$|^[\x21-\x7e]{16,512}$/, {
    message: 'API_KEY must be 16 to 512 printable ASCII characters without spaces, or empty',
  })
  API_KEY = '';

  /** Most verbose level that is logged. */
  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevelName = 'log';

  /** `text` for people, `json` for log collectors. */
  @IsIn(LOG_FORMATS)
  LOG_FORMAT: LogFormat = 'text';
}

/** Settings whose value a validation message must not show. */
export const SECRET_KEYS: ReadonlySet<keyof AppConfig> = new Set([
  'JWT_SECRET',
  'JWT_PUBLIC_KEY',
  'API_KEY',
  'REDIS_CLUSTER_NODES',
]);

/** Whether the instances share state through Redis (one server or a cluster). */
export function redisConfigured(
  config: Pick<AppConfig, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>,
): boolean {
  return config.REDIS_URL !== '' || config.REDIS_CLUSTER_NODES !== '';
}

/** A non-empty comma-separated list of IP addresses and CIDR ranges (`10.0.0.0/8`, `fdaa::/16`). */
function isIpList(value: string): boolean {
  const entries = value.split(',').map((entry) => entry.trim());
  return entries.every((entry) =>
    entry.includes('/') ? ipaddr.isValidCIDR(entry) : ipaddr.isValid(entry),
  );
}

/** Names of the settings, in the order the README lists them. */
export const CONFIG_KEYS = Object.keys(new AppConfig()) as (keyof AppConfig)[];
