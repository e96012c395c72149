import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { getHeapStatistics } from 'node:v8';
import { hashTagOf } from '../redis/hash-tag';
import { AppConfig, CONFIG_KEYS, SECRET_KEYS, redisConfigured } from './app-config';
import { applyFlyDefaults } from './fly-platform';
import { authConfigErrors } from './jwt-settings';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const INTEGER = /^-?\d+$/;
const BOOLEANS = new Map([
  ['true', true],
  ['1', true],
  ['yes', true],
  ['false', false],
  ['0', false],
  ['no', false],
]);

/** Share of the V8 heap limit HISTORY_MAX_BYTES defaults to. */
export const HISTORY_HEAP_SHARE = 0.25;
/** Largest share of the heap limit HISTORY_MAX_BYTES may be set to: the rest is the server's. */
export const HISTORY_HEAP_MAX_SHARE = 0.5;

/**
 * Share of the V8 heap limit HISTORY_ANSWERS_MAX_BYTES defaults to: an answer in flight costs a
 * few times its bytes (the parsed frames, the serialized reply, the socket's buffer).
 */
export const HISTORY_ANSWERS_HEAP_SHARE = 0.05;

/**
 * Builds the validated configuration from an environment. Unset or empty variables take their
 * defaults; a bad value throws a ConfigError whose message names the variable and the value
 * (never the value of a secret). Rules across settings (the JWT key source, the history's share
 * of `heapLimitBytes`, the V8 heap limit by default) are checked last.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  heapLimitBytes = getHeapStatistics().heap_size_limit,
): AppConfig {
  const defaults = new AppConfig();
  const raw: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = env[key]?.trim();
    if (value === undefined || value === '') continue;
    raw[key] = coerce(typeof defaults[key], value);
  }
  const config = plainToInstance(AppConfig, raw, { exposeDefaultValues: true });
  if (raw.MAX_UNAUTHENTICATED === undefined) {
    config.MAX_UNAUTHENTICATED = Math.max(1, Math.floor(config.MAX_CONNECTIONS / 10));
  }
  if (raw.MAX_UNAUTHENTICATED_PER_IP === undefined) {
    config.MAX_UNAUTHENTICATED_PER_IP = Math.max(1, Math.floor(config.MAX_UNAUTHENTICATED / 10));
  }
  // Derived default: room for as many plain HTTP connections as WebSockets of both pools.
  if (raw.MAX_HTTP_CONNECTIONS === undefined) {
    config.MAX_HTTP_CONNECTIONS = 2 * (config.MAX_CONNECTIONS + config.MAX_UNAUTHENTICATED);
  }
  // Derived default: history takes a share of the heap, whatever the machine.
  if (raw.HISTORY_MAX_BYTES === undefined) {
    config.HISTORY_MAX_BYTES = Math.max(1_048_576, Math.floor(heapLimitBytes * HISTORY_HEAP_SHARE));
  }
  if (raw.HISTORY_ANSWERS_MAX_BYTES === undefined) {
    config.HISTORY_ANSWERS_MAX_BYTES = Math.max(
      config.HISTORY_MAX_ANSWER_BYTES,
      Math.floor(heapLimitBytes * HISTORY_ANSWERS_HEAP_SHARE),
    );
  }
  // Derived default: a cluster spreads room channels over its shards.
  if (raw.REDIS_SHARDED_PUBSUB === undefined) {
    config.REDIS_SHARDED_PUBSUB = config.REDIS_CLUSTER_NODES !== '';
  }
  applyFlyDefaults(config, new Set(Object.keys(raw)));
  const errors = validateSync(config, { forbidUnknownValues: true });
  if (errors.length > 0) {
    const lines = errors.map((error) => {
      const reasons = Object.values(error.constraints ?? {}).join('; ');
      return `${error.property}=${shown(error.property, raw[error.property])}: ${reasons}`;
    });
    throw new ConfigError(`Invalid configuration: ${lines.join(', ')}`);
  }
  const crossErrors = [
    ...authConfigErrors(config),
    ...costErrors(config),
    ...replyPrefixErrors(config),
    ...memoryErrors(config, heapLimitBytes),
    ...redisErrors(config),
    ...bridgeSlotErrors(config),
  ];
  if (crossErrors.length > 0) {
    throw new ConfigError(`Invalid configuration: ${crossErrors.join(', ')}`);
  }
  return config;
}

/** A message costing more than the bucket holds, or an answer than the pool, could never be sent. */
function costErrors(config: AppConfig): string[] {
  const costs = ['PRESENCE_COST', 'SWITCH_COST'] as const;
  const errors = costs
    .filter((key) => config[key] > config.RATE_LIMIT_BURST)
    .map(
      (key) =>
        `${key}=${config[key]}: must not exceed RATE_LIMIT_BURST (${config.RATE_LIMIT_BURST}), or the message could never be sent`,
    );
  if (config.HISTORY_ANSWERS_MAX_BYTES < config.HISTORY_MAX_ANSWER_BYTES) {
    errors.push(
      `HISTORY_ANSWERS_MAX_BYTES=${config.HISTORY_ANSWERS_MAX_BYTES}: must not be below HISTORY_MAX_ANSWER_BYTES (${config.HISTORY_MAX_ANSWER_BYTES}), or a full answer could never be sent`,
    );
  }
  return errors;
}

/**
 * Reply lists must be no key the server owns: RPC_REPLY_PREFIX shares no start with
 * REDIS_KEY_PREFIX, and the request and dead-letter streams are not named by it.
 */
function replyPrefixErrors(config: AppConfig): string[] {
  const reply = config.RPC_REPLY_PREFIX;
  const errors: string[] = [];
  const keys = config.REDIS_KEY_PREFIX;
  if (reply.startsWith(keys) || keys.startsWith(reply)) {
    errors.push(
      `RPC_REPLY_PREFIX=${JSON.stringify(reply)}: must not overlap REDIS_KEY_PREFIX (${JSON.stringify(keys)}), or a reply could be pushed to a key of the server`,
    );
  }
  for (const key of ['RPC_REQUEST_STREAM', 'RPC_DEAD_LETTER_STREAM'] as const) {
    if (config[key].startsWith(reply)) {
      errors.push(
        `RPC_REPLY_PREFIX=${JSON.stringify(reply)}: must not name ${key} (${JSON.stringify(config[key])})`,
      );
    }
  }
  return errors;
}

/** One Redis or one cluster: never both. */
function redisErrors(config: AppConfig): string[] {
  if (config.REDIS_URL === '' || config.REDIS_CLUSTER_NODES === '') return [];
  return ['REDIS_URL and REDIS_CLUSTER_NODES: set one of them, not both'];
}

/**
 * On a Redis Cluster the bridge's scripts touch the request stream, its dead letters and the
 * correlation records in one call: both streams carry the same hash tag (the records take it).
 */
function bridgeSlotErrors(config: AppConfig): string[] {
  if (config.REDIS_CLUSTER_NODES === '') return [];
  const stream = config.RPC_REQUEST_STREAM;
  const deadLetters = config.RPC_DEAD_LETTER_STREAM;
  const tag = hashTagOf(stream);
  if (tag === undefined) {
    return [
      `RPC_REQUEST_STREAM=${JSON.stringify(stream)}: on a Redis Cluster (REDIS_CLUSTER_NODES) it must carry a hash tag, and RPC_DEAD_LETTER_STREAM the same one (for example "{rpc}:requests" and "{rpc}:requests:dlq"), so that the bridge's scripts touch one slot; the backends write to that name`,
    ];
  }
  if (hashTagOf(deadLetters) === tag) return [];
  return [
    `RPC_DEAD_LETTER_STREAM=${JSON.stringify(deadLetters)}: on a Redis Cluster (REDIS_CLUSTER_NODES) it must carry RPC_REQUEST_STREAM's hash tag {${tag}} (for example "{${tag}}:dlq"), so that the bridge's scripts touch one slot`,
  ];
}

/** History held in memory may take at most HISTORY_HEAP_MAX_SHARE of the heap. */
function memoryErrors(config: AppConfig, heapLimitBytes: number): string[] {
  const ceiling = Math.floor(heapLimitBytes * HISTORY_HEAP_MAX_SHARE);
  if (redisConfigured(config) || config.HISTORY_MAX_BYTES <= ceiling) return [];
  return [
    `HISTORY_MAX_BYTES=${config.HISTORY_MAX_BYTES}: must not exceed ${ceiling}, ` +
      `${HISTORY_HEAP_MAX_SHARE * 100}% of the ${mib(heapLimitBytes)} MiB heap limit ` +
      `(raise --max-old-space-size or lower HISTORY_MAX_BYTES; unset, it is ` +
      `${HISTORY_HEAP_SHARE * 100}% of the heap)`,
  ];
}

export function mib(bytes: number): number {
  return Math.round(bytes / 1_048_576);
}

function shown(key: string, value: unknown): string {
  return SECRET_KEYS.has(key as keyof AppConfig) ? '(not shown)' : JSON.stringify(value);
}

/** Numbers and booleans are parsed strictly: "8080abc" or "maybe" stay strings and fail validation. */
function coerce(kind: string, value: string): unknown {
  if (kind === 'number' && INTEGER.test(value)) return Number(value);
  if (kind === 'boolean') return BOOLEANS.get(value.toLowerCase()) ?? value;
  return value;
}

/** A configuration for tests and tools: the defaults with the given overrides, validated. */
export function configWith(overrides: Partial<AppConfig>): AppConfig {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(overrides)) env[key] = String(value);
  return loadConfig(env);
}
