/**
 * The load generator: a child process of the orchestrator (bench/run.ts), pinned to its own core.
 * It receives one `run` command over IPC, runs that scenario against a loopback server, reports
 * the result and exits. It is bounded in time (the spec's budget) and ends with its parent.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ErrorLog, LoadContext } from './load/load-context';
import { runChurn } from './load/churn.load';
import { runClosedLoop } from './load/closed-loop.load';
import { runIdle } from './load/idle.load';
import { runOpenLoop } from './load/open-loop.load';
import { LoadEvent, LoadResult, MarkName, isLoadCommand } from './lib/ipc';
import { LoadSpec, loadBudgetMs, parseLoadSpec } from './lib/load-specs';
import { assertLoopbackHost } from './lib/loopback';

const EXIT_FAILED = 1;
const EXIT_TIMED_OUT = 3;

function send(event: LoadEvent): void {
  process.send?.(event);
}

/** Exits once `event` has been handed to the IPC channel, so the orchestrator gets it. */
function sendAndExit(event: LoadEvent, code: number): void {
  process.send?.(event, undefined, {}, () => process.exit(code));
}

function runScenario(spec: LoadSpec, context: LoadContext): Promise<LoadResult> {
  switch (spec.kind) {
    case 'closed-loop':
      return runClosedLoop(spec, context);
    case 'open-loop':
      return runOpenLoop(spec, context);
    case 'idle':
      return runIdle(spec, context);
    case 'churn':
      return runChurn(spec, context);
  }
}

let pendingAck: (() => void) | undefined;
/** The generator's own stalls in the measured window: a late generator inflates latencies too. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
let windowLoopDelayMaxMs: number | undefined;

function mark(name: MarkName): Promise<void> {
  if (name === 'start') loopDelay.enable();
  if (name === 'end') {
    windowLoopDelayMaxMs = loopDelay.max / 1e6;
    loopDelay.disable();
  }
  return new Promise((resolve) => {
    pendingAck = resolve;
    send({ type: 'mark', name });
  });
}

async function run(host: string, ports: readonly number[], rawSpec: unknown): Promise<void> {
  assertLoopbackHost(host);
  const spec = parseLoadSpec(rawSpec);
  setTimeout(() => {
    send({ type: 'failed', message: `load generator cut off after ${loadBudgetMs(spec)} ms` });
    process.exit(EXIT_TIMED_OUT);
  }, loadBudgetMs(spec)).unref();
  const context = { host, port: ports[0], ports, errors: new ErrorLog(), mark };
  const result = await runScenario(spec, context);
  if (windowLoopDelayMaxMs !== undefined) {
    result.metrics.generatorLoopDelayMaxMs = windowLoopDelayMaxMs;
  }
  sendAndExit({ type: 'result', result }, 0);
}

if (!process.send) {
  console.error('bench/load-generator.ts is started by bench/run.ts (npm run bench)');
  process.exit(2);
}
// An orphaned generator must not keep loading a server: it goes with its parent.
process.on('disconnect', () => process.exit(EXIT_FAILED));
process.on('message', (message: unknown) => {
  if (!isLoadCommand(message)) return;
  if (message.cmd === 'ack') {
    const resolve = pendingAck;
    pendingAck = undefined;
    resolve?.();
    return;
  }
  const ports = message.ports && message.ports.length > 0 ? message.ports : [message.port];
  run(message.host, ports, message.spec).catch((error: unknown) => {
    const text = error instanceof Error ? error.message : String(error);
    sendAndExit({ type: 'failed', message: text }, EXIT_FAILED);
  });
});
