/**
 * Runs one server under test in this process, for the orchestrator (bench/run.ts), which forks it
 * with --expose-gc: `serve.ts product PATH/TO/dist/main.js` or `serve.ts reference`. Over IPC it
 * answers `memory` (after a full GC), `cpu`, `heap-snapshot` and `stop`, so the product needs no benchmark code.
 * The port is chosen here and handed to the server as PORT, the same way for both servers.
 */
import { get } from 'node:http';
import { createServer } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { ServerEvent, isServerCommand } from './lib/ipc';
import { eventually } from '../test/support/eventually';
import { assertLoopbackHost } from './lib/loopback';

const READY_TIMEOUT_MS = 30_000;
/** Resolution of the event-loop delay histogram; a timer this often costs both servers alike. */
const LOOP_DELAY_RESOLUTION_MS = 10;

const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
loopDelay.enable();

function send(event: ServerEvent): void {
  process.send?.(event);
}

/** A port that was free a moment ago on `host`. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function healthy(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host, port, path: '/', timeout: 1_000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
  });
}

async function start(kind: string, entry: string | undefined): Promise<void> {
  const host = process.env.HOST ?? '127.0.0.1';
  assertLoopbackHost(host);
  const port = await freePort(host);
  if (kind === 'product') {
    if (!entry) throw new Error('serve.ts product needs the path of dist/main.js');
    // The product reads PORT from its environment, like in production.
    process.env.PORT = String(port);
    await import(entry);
  } else if (kind === 'reference') {
    const { startReferenceServer } = await import('./reference-server');
    await startReferenceServer(host, port);
    console.log(`reference chat server listening on http://${host}:${port}`);
  } else {
    throw new Error(`unknown server kind ${kind}`);
  }
  await eventually(`the ${kind} server on port ${port} to be healthy`, () => healthy(host, port), {
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 50,
  });
  send({ type: 'ready', port });
}

process.on('disconnect', () => process.exit(0));
process.on('message', (message: unknown) => {
  if (!isServerCommand(message)) return;
  switch (message.cmd) {
    case 'memory': {
      // Two passes: the first can leave objects for finalizers that the second collects.
      global.gc?.();
      global.gc?.();
      const { rss, heapUsed, external } = process.memoryUsage();
      return send({ type: 'memory', memory: { rss, heapUsed, external } });
    }
    case 'cpu': {
      const { user, system } = process.cpuUsage();
      const loopDelayMaxMs = loopDelay.max / 1e6;
      loopDelay.reset();
      const cpu = { userUs: user, systemUs: system, atMs: performance.now(), loopDelayMaxMs };
      return send({ type: 'cpu', cpu });
    }
    case 'heap-snapshot':
      return send({ type: 'heap-snapshot', file: writeHeapSnapshot(message.file) });
    case 'stop':
      // process.exit writes a --cpu-prof profile, if one is being taken.
      return process.exit(0);
  }
});
if (typeof global.gc !== 'function') console.warn('serve.ts: started without --expose-gc');
start(process.argv[2] ?? '', process.argv[3]).catch((error: unknown) => {
  send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
