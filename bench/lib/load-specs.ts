import { isRecord } from './ipc';

/** Rooms filled with members; the first `sendersPerRoom` members of each room send. */
interface RoomGrid {
  rooms: number;
  membersPerRoom: number;
  sendersPerRoom: number;
  /** Length of `content` in every chat message, in ASCII characters. */
  contentLength: number;
}

/** Each sender keeps `inFlight` messages outstanding and sends the next when its own copy is back. */
export interface ClosedLoopSpec extends RoomGrid {
  kind: 'closed-loop';
  inFlight: number;
  warmupMs: number;
  durationMs: number;
}

/**
 * Messages leave on a fixed timetable whatever the server does, each carrying the time it was
 * due, so a stalled server shows as latency instead of as fewer samples (no coordinated omission).
 */
export interface OpenLoopSpec extends RoomGrid {
  kind: 'open-loop';
  messagesPerSecond: number;
  warmupMs: number;
  durationMs: number;
  /** Time allowed after the last message for deliveries still on their way. */
  drainMs: number;
  /** Every n-th member of a room records latencies; the others only count frames. */
  sampleEvery: number;
}

/** Connections that join and then stay quiet. */
export interface IdleSpec {
  kind: 'idle';
  connections: number;
  rooms: number;
  /** Time for the last joins' user_joined frames to reach everyone before memory is sampled. */
  settleMs: number;
  /** Time the connections are held open after the memory sample. */
  holdMs: number;
}

/** `concurrency` loops of connect, join, close, next to rooms of resident members. */
export interface ChurnSpec {
  kind: 'churn';
  rooms: number;
  residentsPerRoom: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export type LoadSpec = ClosedLoopSpec | OpenLoopSpec | IdleSpec | ChurnSpec;

const FIELDS: Record<LoadSpec['kind'], readonly string[]> = {
  'closed-loop': [
    'rooms',
    'membersPerRoom',
    'sendersPerRoom',
    'contentLength',
    'inFlight',
    'warmupMs',
    'durationMs',
  ],
  'open-loop': [
    'rooms',
    'membersPerRoom',
    'sendersPerRoom',
    'contentLength',
    'messagesPerSecond',
    'warmupMs',
    'durationMs',
    'drainMs',
    'sampleEvery',
  ],
  idle: ['connections', 'rooms', 'settleMs', 'holdMs'],
  churn: ['rooms', 'residentsPerRoom', 'concurrency', 'warmupMs', 'durationMs'],
};

/** The prefix of the names of a load's rooms and users, per kind of load. */
export const ROOM_PREFIX: Readonly<Record<LoadSpec['kind'], string>> = {
  'closed-loop': 'f',
  'open-loop': 'o',
  idle: 'i',
  churn: 'c',
};

/** Room `index` of a load whose names start with `prefix`. */
export function roomName(prefix: string, index: number): string {
  return `${prefix}-r${index}`;
}

/** The rooms a run of `spec` joins, by name (the orchestrator finds which shard owns each). */
export function roomsOf(spec: LoadSpec): string[] {
  return Array.from({ length: spec.rooms }, (_, i) => roomName(ROOM_PREFIX[spec.kind], i));
}

/** Narrows a spec received over IPC; throws when a field is missing or not a positive number. */
export function parseLoadSpec(value: unknown): LoadSpec {
  if (!isRecord(value) || typeof value.kind !== 'string' || !(value.kind in FIELDS)) {
    throw new Error('not a load spec');
  }
  for (const field of FIELDS[value.kind as LoadSpec['kind']]) {
    const n = value[field];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
      throw new Error(`load spec ${value.kind}: ${field} must be a number >= 0`);
    }
  }
  return value as unknown as LoadSpec;
}

/** Longest a run of `spec` may take, setup included, before the generator gives up. */
export function loadBudgetMs(spec: LoadSpec): number {
  const setup = 120_000;
  switch (spec.kind) {
    case 'closed-loop':
    case 'churn':
      return setup + spec.warmupMs + spec.durationMs;
    case 'open-loop':
      return setup + spec.warmupMs + spec.durationMs + spec.drainMs;
    case 'idle':
      return setup + spec.settleMs + spec.holdMs;
  }
}
