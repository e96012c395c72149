import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisClient } from './redis-client';
import { newEpoch } from '../rooms/stream-epoch';

/**
 * The scripts in lua/, each run with lua/library.lua in front. Each declares every key it touches
 * (KEYS), all of one hash slot: a room's, or a user's.
 */
const SCRIPTS = {
  chatPublish: { file: 'publish.lua', keys: 3 },
  /** The same script with the idempotency key's record as a fourth key. */
  chatPublishOnce: { file: 'publish.lua', keys: 4 },
  chatHistory: { file: 'history.lua', keys: 2 },
  chatRebase: { file: 'rebase.lua', keys: 1 },
  chatMemberAdd: { file: 'member-add.lua', keys: 8 },
  chatMemberRemove: { file: 'member-remove.lua', keys: 8 },
  chatMemberBeat: { file: 'member-beat.lua', keys: 8 },
  chatMemberSync: { file: 'member-sync.lua', keys: 8 },
  chatMemberDrain: { file: 'member-drain.lua', keys: 8 },
  chatMembers: { file: 'members.lua', keys: 2 },
  chatLeaveIfAbsent: { file: 'leave-if-absent.lua', keys: 4 },
  chatUserAcquire: { file: 'user-acquire.lua', keys: 1 },
} as const;
export type ScriptName = keyof typeof SCRIPTS;

const LUA_DIR = join(__dirname, 'lua');

/**
 * Reads the scripts once (at start) and defines them on `client` as commands (EVALSHA); a client
 * that has them already keeps them. `sharded`: room channels go out with SPUBLISH (sharded
 * pub/sub, read with SSUBSCRIBE), PUBLISH otherwise.
 */
export function defineScripts(client: RedisClient, sharded = false): void {
  const command = `local publish_command = '${sharded ? 'SPUBLISH' : 'PUBLISH'}'`;
  const library = readFileSync(join(LUA_DIR, 'library.lua'), 'utf8');
  for (const [name, { file, keys }] of Object.entries(SCRIPTS)) {
    const body = readFileSync(join(LUA_DIR, file), 'utf8');
    if (!(name in client))
      client.defineCommand(name, { numberOfKeys: keys, lua: `${command}\n${library}\n${body}` });
  }
}

type ScriptCommand = (...args: string[]) => Promise<unknown>;

/** What every script is told besides its own arguments. */
export interface ScriptContext {
  /** REDIS_KEY_PREFIX. */
  prefix: string;
  /** HISTORY_TTL_MS: how long a room's position and history outlive its newest publication. */
  ttlMs: number;
  /** HISTORY_SIZE: publications kept per room (0: none). */
  historySize: number;
  /** HISTORY_ROOM_MAX_BYTES: bytes of history kept per room; absent: bounded by count only. */
  historyMaxBytes?: number;
}

/**
 * Runs a defined script: `keys` first, then the arguments every script takes (prefix, the epoch
 * for a stream that starts now, the TTL, the history's bounds), then `args`.
 */
export function runScript(
  client: RedisClient,
  context: ScriptContext,
  name: ScriptName,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  const command = (client as unknown as Record<ScriptName, ScriptCommand>)[name];
  const { historySize, historyMaxBytes } = context;
  const history =
    historyMaxBytes === undefined ? `${historySize}` : `${historySize}:${historyMaxBytes}`;
  const common = [context.prefix, newEpoch(), String(context.ttlMs), history];
  return command.call(client, ...keys, ...common, ...args);
}
