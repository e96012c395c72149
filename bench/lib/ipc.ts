/**
 * The messages between the orchestrator and its two children (server and load generator), which
 * talk over the IPC channel of child_process.fork. Every received message is `unknown` until one
 * of the guards below has narrowed it.
 */

export type ServerKind = 'product' | 'reference';
export const SERVER_KINDS: readonly ServerKind[] = ['product', 'reference'];

export interface MemorySample {
  rss: number;
  heapUsed: number;
  external: number;
}

/**
 * Server CPU time (microseconds), the server's monotonic clock (milliseconds) when taken, and the
 * worst event-loop delay since the previous sample (a stall, whoever caused it).
 */
export interface CpuSample {
  userUs: number;
  systemUs: number;
  atMs: number;
  loopDelayMaxMs: number;
}

// Orchestrator → server.
export type ServerCommand =
  { cmd: 'memory' } | { cmd: 'cpu' } | { cmd: 'heap-snapshot'; file: string } | { cmd: 'stop' };

// Server → orchestrator.
export type ServerEvent =
  | { type: 'ready'; port: number }
  | { type: 'memory'; memory: MemorySample }
  | { type: 'cpu'; cpu: CpuSample }
  | { type: 'heap-snapshot'; file: string }
  | { type: 'failed'; message: string };

/** A point in a scenario where the orchestrator samples the server before the load goes on. */
export type MarkName = 'start' | 'end' | 'held';

/** What a load run reports: named figures plus the count of anything that went wrong. */
export interface LoadResult {
  metrics: Record<string, number>;
  errors: number;
  /** Short descriptions of the first errors, for the report. */
  errorSamples: string[];
}

// Orchestrator → load generator.
export type LoadCommand =
  { cmd: 'run'; host: string; port: number; spec: unknown; ports?: number[] } | { cmd: 'ack' };

// Load generator → orchestrator.
export type LoadEvent =
  | { type: 'mark'; name: MarkName }
  | { type: 'result'; result: LoadResult }
  | { type: 'failed'; message: string };

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNumberRecord(value: unknown): value is Record<string, number> {
  return isRecord(value) && Object.values(value).every((v) => typeof v === 'number');
}

export function isServerCommand(value: unknown): value is ServerCommand {
  if (!isRecord(value)) return false;
  if (value.cmd === 'heap-snapshot') return typeof value.file === 'string';
  return value.cmd === 'memory' || value.cmd === 'cpu' || value.cmd === 'stop';
}

export function isServerEvent(value: unknown): value is ServerEvent {
  if (!isRecord(value)) return false;
  switch (value.type) {
    case 'ready':
      return typeof value.port === 'number';
    case 'memory':
      return isNumberRecord(value.memory);
    case 'cpu':
      return isNumberRecord(value.cpu);
    case 'heap-snapshot':
      return typeof value.file === 'string';
    case 'failed':
      return typeof value.message === 'string';
    default:
      return false;
  }
}

export function isLoadCommand(value: unknown): value is LoadCommand {
  if (!isRecord(value)) return false;
  if (value.cmd === 'ack') return true;
  return (
    value.cmd === 'run' &&
    typeof value.host === 'string' &&
    typeof value.port === 'number' &&
    (value.ports === undefined ||
      (Array.isArray(value.ports) && value.ports.every((p) => typeof p === 'number')))
  );
}

export function isLoadEvent(value: unknown): value is LoadEvent {
  if (!isRecord(value)) return false;
  switch (value.type) {
    case 'mark':
      return value.name === 'start' || value.name === 'end' || value.name === 'held';
    case 'result':
      return (
        isRecord(value.result) &&
        isNumberRecord(value.result.metrics) &&
        typeof value.result.errors === 'number' &&
        Array.isArray(value.result.errorSamples)
      );
    case 'failed':
      return typeof value.message === 'string';
    default:
      return false;
  }
}
