/*
 * What every attack of `npm run attack` shares: a server started on loopback from a build, the
 * probes that time health and a chat round trip from another client address while the attack
 * runs, raw sockets from the attacker address, and the summary of what the server suffered.
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

export const ATTACKER = '127.0.0.2';
export const PROBE = '127.0.0.3';
export const PROBE_TIMEOUT_MS = 5_000;
export const MAX_SECONDS = 600;
export const MAX_SOCKETS = 19_500;

export type Options = Record<string, number | string>;

export interface Server {
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
export async function startServer(
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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export function rssKb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export async function stopServer(server: Server): Promise<string> {
  if (server.exit) return server.exit;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
  const exit = await server.exited;
  clearTimeout(timer);
  return exit;
}

/** GET /health/live from the probe address on a fresh connection; its latency or undefined. */
export function probeHealth(port: number, localAddress = PROBE): Promise<number | undefined> {
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
export class ChatProbe {
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

export interface ProbeTally {
  health: (number | undefined)[];
  chat: (number | undefined)[];
}

/** Probes health and chat once a second until `signal` aborts. */
export async function probe(port: number, signal: AbortSignal): Promise<ProbeTally> {
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
export function text(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.isBuffer(data) ? data.toString() : Buffer.from(data).toString();
}

export function rawSocket(port: number, localAddress = ATTACKER): Promise<Socket> {
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
export async function openSockets(port: number, count: number, batch = 500) {
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
export const closing = new WeakSet<Socket>();

export function closeAll(sockets: Socket[]): void {
  for (const socket of sockets) {
    closing.add(socket);
    socket.destroy();
  }
}

export const percentile = (values: number[], p: number): number | undefined => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
export const round = (value: number | undefined): number | null =>
  value === undefined ? null : Math.round(value * 10) / 10;

export function summarizeProbes(tally: ProbeTally) {
  const ok = (values: (number | undefined)[]) => values.filter((v): v is number => v !== undefined);
  const line = (values: (number | undefined)[], what: string): string => {
    const answered = ok(values);
    const slow = answered.filter((ms) => ms > 1_000).length;
    return (
      `${answered.length}/${values.length} ${what}, median ${round(percentile(answered, 50))} ms, ` +
      `p99 ${round(percentile(answered, 99))} ms, max ${round(percentile(answered, 100))} ms, ` +
      `${slow} over 1 s`
    );
  };
  return { health: line(tally.health, 'answered'), chat: line(tally.chat, 'round trips') };
}

export function summarizeServer(server: Server, exit: string) {
  const peak = Math.max(0, ...server.rssKb) / 1024;
  return {
    exit: server.exit ?? exit,
    outOfMemory: server.outOfMemory,
    rssMb: `${round((server.rssKb[0] ?? 0) / 1024)} -> peak ${round(peak)}`,
    log: `${server.logBytes} bytes, ${server.errorLines} ERROR / ${server.warnLines} WARN lines`,
  };
}

/** Runs `attack` for `seconds` with the probes going; reports server, probes and attack figures. */
export async function underProbes(
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

/** What an attack needs before the server starts, and what it releases after it stopped. */
export interface AttackSetup {
  /** Server environment on top of this process's. */
  env: Record<string, string>;
  /** Runs after the server stopped (for example, stops a Redis the setup started). */
  cleanup?: () => Promise<void>;
}

/** One `npm run attack -- <name>` command. */
export interface Attack {
  /** One line for the usage text. */
  summary: string;
  /** Prepares the server's environment (and anything it depends on); none by default. */
  setup?: (options: Options) => Promise<AttackSetup>;
  /** Runs the attack against the started server; returns the figures to report. */
  run: (server: Server, options: Options) => Promise<object>;
}
