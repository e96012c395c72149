import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import * as readline from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket, { RawData } from 'ws';
import { ClientMessageType, ServerMessageType } from '../src/protocol/chat.protocol';
import { parseFrame, rawToString } from './lib/frames';

const DEFAULT_CLIENTS = 500;
const DEFAULT_ROOMS = 10;
const DEFAULT_RATE = 200;
const DEFAULT_SENDER_RATE = 5;
/** Per-sender ceiling: under the server's default of 20 per second, with room for timer jitter. */
const MAX_SENDER_RATE = 15;
const RSS_SAMPLE_MS = 5_000;
const CONNECT_CONCURRENCY = 50;
const CONNECT_TIMEOUT_MS = 10_000;
const SERVER_START_TIMEOUT_MS = 30_000;
const DRAIN_MAX_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5_000;
/** The server's own budget is SHUTDOWN_TIMEOUT_MS (default 10 s); after this it is killed. */
const SERVER_STOP_TIMEOUT_MS = 15_000;
const SEND_TICK_MS = 5;
/** A sender more than this many messages behind (a stalled loop) skips them instead of bursting. */
const MAX_CATCH_UP = 4;
const WS_OPEN = 1;

const USAGE = `Usage: npm run soak -- --minutes N [--clients C] [--rooms R] [--rate MSG_PER_SEC]
                        [--senders S] [--url ws://127.0.0.1:PORT/ws [--pid PID]]

A bounded soak of a PixIDE chat server on this machine (loopback only). C clients join R rooms
(round-robin); S of them send chat messages at MSG_PER_SEC in total for N minutes; every client
checks that it got each message of its room exactly once and in order. Then it closes everything
and reports delivery, latency and the server's RSS over time.

Without --url it starts the server itself (node dist/main.js when built, otherwise src/main.ts
through ts-node) on a free port of 127.0.0.1, with the environment it was given, and stops it with
SIGTERM at the end.
  --minutes N   length of the sending phase (required; fractions allowed)
  --clients C   connections, each joined to one room (default ${DEFAULT_CLIENTS})
  --rooms R     rooms (default ${DEFAULT_ROOMS})
  --rate M      chat messages per second, all senders together (default ${DEFAULT_RATE})
  --senders S   connections that send (default: M / ${DEFAULT_SENDER_RATE}, so each sends ${DEFAULT_SENDER_RATE} per second)
  --url URL     soak a running server instead; its host must be 127.0.0.0/8, localhost or ::1
  --pid PID     with --url: the server's process id, to sample its RSS from /proc
Each sender stays under the per-connection rate limit (RATE_LIMIT_PER_SECOND, default 20); keep C
under MAX_CONNECTIONS_PER_IP (default 1000). The run is cut off N + 1 minutes after it started,
whatever the server does.
Exit status: 0 when nothing was lost, duplicated or reordered and the server stopped cleanly;
1 otherwise; 2 on bad arguments; 3 when cut off.`;

interface Args {
  minutes: number;
  clients: number;
  rooms: number;
  rate: number;
  senders: number;
  url?: string;
  pid?: number;
}

// ---------------------------------------------------------------------------------------------
// Arguments

/** True for 127.0.0.0/8, localhost and ::1: the only hosts this tool will load. */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host === '::1') return true;
  return isIPv4(host) && host.startsWith('127.');
}

function positiveNumber(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

function positiveInteger(value: string | undefined): number | undefined {
  const n = positiveNumber(value);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}

/** The arguments, or the reason they are wrong. */
function parseArgs(argv: string[]): Args | string {
  const named = new Map<string, string | undefined>();
  const known = ['--minutes', '--clients', '--rooms', '--rate', '--senders', '--url', '--pid'];
  for (let i = 0; i < argv.length; i++) {
    if (!known.includes(argv[i])) return `unknown argument ${argv[i]}`;
    named.set(argv[i], argv[++i]);
  }
  const minutes = positiveNumber(named.get('--minutes'));
  if (minutes === undefined || minutes > 24 * 60) {
    return '--minutes needs a number of minutes above 0 (at most a day)';
  }
  const integer = (name: string, fallback: number): number | string => {
    if (!named.has(name)) return fallback;
    return positiveInteger(named.get(name)) ?? `${name} needs a positive whole number`;
  };
  const clients = integer('--clients', DEFAULT_CLIENTS);
  const rooms = integer('--rooms', DEFAULT_ROOMS);
  if (typeof clients === 'string') return clients;
  if (typeof rooms === 'string') return rooms;
  if (rooms > clients) return '--rooms must not exceed --clients';
  const rate = named.has('--rate') ? positiveNumber(named.get('--rate')) : DEFAULT_RATE;
  if (rate === undefined) return '--rate needs a number of messages per second above 0';
  const senders = integer('--senders', Math.min(clients, Math.ceil(rate / DEFAULT_SENDER_RATE)));
  if (typeof senders === 'string') return senders;
  if (senders > clients) return '--senders must not exceed --clients';
  if (rate / senders > MAX_SENDER_RATE) {
    return (
      `${rate} msg/s from ${senders} sender(s) is ${(rate / senders).toFixed(1)} per connection, ` +
      `over ${MAX_SENDER_RATE}: the server's rate limit would drop messages; add senders or clients`
    );
  }
  const url = named.get('--url');
  if (named.has('--url')) {
    let parsed: URL;
    try {
      parsed = new URL(url ?? '');
    } catch {
      return `not a URL: ${url}`;
    }
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') return `not a ws:// URL: ${url}`;
    if (!isLoopbackHost(parsed.hostname)) {
      return `refusing ${parsed.hostname}: the soak runs against loopback only (127.0.0.0/8, localhost, ::1)`;
    }
  }
  let pid: number | undefined;
  if (named.has('--pid')) {
    if (url === undefined)
      return '--pid goes with --url (without --url the soak starts the server)';
    pid = positiveInteger(named.get('--pid'));
    if (pid === undefined) return '--pid needs a process id';
    if (readStatusKb(pid, 'VmRSS') === undefined) return `no readable /proc/${pid}/status`;
  }
  return { minutes, clients, rooms, rate, senders, url, pid };
}

// ---------------------------------------------------------------------------------------------
// Measurements

/** A field of /proc/PID/status in kB (VmRSS: resident now; VmHWM: the peak so far). */
function readStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

const mb = (kb: number | undefined): number | undefined =>
  kb === undefined ? undefined : Math.round(kb / 102.4) / 10;

/**
 * Latencies in logarithmic buckets 1 % wide, from 1 µs up: bounded memory however long the run,
 * at a precision far finer than what the figures are used for.
 */
class LatencyHistogram {
  private static readonly BASE_MS = 0.001;
  private static readonly GROWTH = Math.log(1.01);
  private readonly buckets = new Float64Array(2_500);
  count = 0;
  max = 0;

  record(ms: number): void {
    const value = Math.max(ms, 0);
    const raw = Math.ceil(
      Math.log(Math.max(value, LatencyHistogram.BASE_MS) / LatencyHistogram.BASE_MS) /
        LatencyHistogram.GROWTH,
    );
    this.buckets[Math.min(raw, this.buckets.length - 1)]++;
    this.count++;
    if (value > this.max) this.max = value;
  }

  /** The upper bound of the bucket holding quantile `q` (0..1), in ms. */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= rank) {
        return Math.min(LatencyHistogram.BASE_MS * Math.exp(i * LatencyHistogram.GROWTH), this.max);
      }
    }
    return this.max;
  }
}

/** What one receiver got from one sender: a count per sequence number, and order violations. */
class SeqTrack {
  private counts = new Uint8Array(256);
  distinct = 0;
  duplicates = 0;
  outOfOrder = 0;
  private highest = -1;

  record(seq: number): void {
    if (seq >= this.counts.length) {
      const grown = new Uint8Array(Math.max(this.counts.length * 2, seq + 1));
      grown.set(this.counts);
      this.counts = grown;
    }
    const seen = this.counts[seq];
    if (seen < 255) this.counts[seq] = seen + 1;
    if (seen > 0) {
      this.duplicates++;
      return;
    }
    this.distinct++;
    if (seq < this.highest) this.outOfOrder++;
    else this.highest = seq;
  }
}

interface RssSample {
  /** ms since the sending phase began (negative before). */
  atMs: number;
  kb: number;
}

interface RssMark {
  label: string;
  kb: number | undefined;
}

/** Samples a process's VmRSS every few seconds, plus labelled samples at chosen moments. */
class RssSampler {
  readonly samples: RssSample[] = [];
  readonly marks: RssMark[] = [];
  /** VmHWM read just before the server is stopped. */
  peakKbAtEnd: number | undefined;
  /** The start of the sending phase, which sample times are relative to. */
  origin = performance.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pid: number | undefined) {}

  start(): void {
    if (this.pid === undefined) return;
    this.timer = setInterval(() => this.sample(), RSS_SAMPLE_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  mark(label: string): void {
    this.marks.push({ label, kb: this.sample() });
  }

  peakKb(): number | undefined {
    return this.pid === undefined ? undefined : readStatusKb(this.pid, 'VmHWM');
  }

  private sample(): number | undefined {
    if (this.pid === undefined) return undefined;
    const kb = readStatusKb(this.pid, 'VmRSS');
    if (kb !== undefined) this.samples.push({ atMs: performance.now() - this.origin, kb });
    return kb;
  }
}

// ---------------------------------------------------------------------------------------------
// Clients

interface Tally {
  sent: number;
  expected: number;
  delivered: number;
  duplicated: number;
  outOfOrder: number;
}

/** What every client saw, besides the per-sender tracks each client keeps. */
class Observations {
  readonly latency = new LatencyHistogram();
  /** Latencies since the last progress line. */
  latencyWindow = new LatencyHistogram();
  readonly otherFrames = new Map<string, number>();
  readonly errorCodes = new Map<string, number>();
  readonly closeCodes = new Map<number, number>();
  /** chat_message frames whose content is not this soak's `{sender, seq, sentAt}`. */
  malformed = 0;
  /** chat_message frames from another room, or from a sender not in the receiver's room. */
  misrouted = 0;
  unexpectedCloses = 0;
  /** Sends skipped because the socket was no longer open. */
  sendsOnClosed = 0;
  /** Sends skipped because the soak's own event loop fell behind. */
  sendsSkipped = 0;

  bump<K>(map: Map<K, number>, key: K): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}

class SoakClient {
  /** Chat messages this client has sent; also the next sequence number. */
  sent = 0;
  /** Per sender index: what this client received from it. */
  readonly tracks = new Map<number, SeqTrack>();
  private socket: WebSocket | undefined;
  private closing = false;
  private closed: Promise<void> = Promise.resolve();

  constructor(
    readonly index: number,
    readonly userId: string,
    readonly roomId: string,
    private readonly roster: Map<string, SoakClient>,
    private readonly seen: Observations,
  ) {}

  /** Opens the connection and joins the room; rejects with the reason on failure or timeout. */
  connect(url: string): Promise<void> {
    const socket = new WebSocket(url, {
      handshakeTimeout: CONNECT_TIMEOUT_MS,
      perMessageDeflate: false,
    });
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    let joined = false;
    return new Promise<void>((resolve, reject) => {
      const fail = (reason: string): void => {
        clearTimeout(timer);
        socket.terminate();
        reject(new Error(`client ${this.userId}: ${reason}`));
      };
      const timer = setTimeout(() => fail('no "joined" in time'), CONNECT_TIMEOUT_MS);
      // After the join, an error ends in 'close', which counts it.
      socket.on('error', (error) => {
        if (!joined) fail(error.message);
      });
      socket.once('open', () =>
        socket.send(
          JSON.stringify({
            type: ClientMessageType.Join,
            userId: this.userId,
            roomId: this.roomId,
          }),
        ),
      );
      socket.on('message', (data: RawData, isBinary: boolean) => {
        if (this.receive(data, isBinary) && !joined) {
          joined = true;
          clearTimeout(timer);
          resolve();
        }
      });
      socket.once('close', (code: number) => {
        if (this.closing) return;
        if (!joined) return fail(`closed with ${code} before joining`);
        this.seen.unexpectedCloses++;
        this.seen.bump(this.seen.closeCodes, code);
      });
    });
  }

  /** Sends the next chat message; the content carries what receivers need to check it. */
  sendNext(): void {
    if (this.socket?.readyState !== WS_OPEN) {
      this.seen.sendsOnClosed++;
      return;
    }
    const content = JSON.stringify({ sender: this.userId, seq: this.sent, sentAt: now() });
    this.socket.send(
      JSON.stringify({ type: ClientMessageType.ChatMessage, userId: this.userId, content }),
    );
    this.sent++;
  }

  /** Closes with 1000 and waits for the handshake; terminates after `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    const socket = this.socket;
    if (!socket) return;
    if (socket.readyState === WS_OPEN) socket.close(1000, 'soak done');
    else socket.terminate();
    const timer = setTimeout(() => socket.terminate(), timeoutMs);
    await this.closed;
    clearTimeout(timer);
  }

  /** Records one frame; true when it is this client's `joined`. */
  private receive(data: RawData, isBinary: boolean): boolean {
    const frame = isBinary ? undefined : parseFrame(rawToString(data));
    const type = typeof frame?.type === 'string' ? frame.type : '#not_json';
    if (type === ServerMessageType.ChatMessage && frame) {
      this.receiveChat(frame);
      return false;
    }
    if (type === ServerMessageType.Error) {
      this.seen.bump(this.seen.errorCodes, String(frame?.code));
      return false;
    }
    this.seen.bump(this.seen.otherFrames, type);
    return type === ServerMessageType.Joined && frame?.roomId === this.roomId;
  }

  private receiveChat(frame: Record<string, unknown>): void {
    const receivedAt = now();
    const content = typeof frame.content === 'string' ? parseFrame(frame.content) : undefined;
    const senderId = content?.sender;
    const seq = content?.seq;
    const sentAt = content?.sentAt;
    if (
      typeof senderId !== 'string' ||
      typeof seq !== 'number' ||
      !Number.isInteger(seq) ||
      seq < 0 ||
      seq > 100_000_000 ||
      typeof sentAt !== 'number'
    ) {
      this.seen.malformed++;
      return;
    }
    const sender = this.roster.get(senderId);
    if (!sender || sender.roomId !== this.roomId || frame.roomId !== this.roomId) {
      this.seen.misrouted++;
      return;
    }
    let track = this.tracks.get(sender.index);
    if (!track) {
      track = new SeqTrack();
      this.tracks.set(sender.index, track);
    }
    track.record(seq);
    this.seen.latency.record(receivedAt - sentAt);
    this.seen.latencyWindow.record(receivedAt - sentAt);
  }
}

/** Wall-clock ms with sub-ms precision; sender and receivers share this process's clock. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

function tally(clients: readonly SoakClient[]): Tally {
  const roomSize = new Map<string, number>();
  for (const client of clients) roomSize.set(client.roomId, (roomSize.get(client.roomId) ?? 0) + 1);
  const result: Tally = { sent: 0, expected: 0, delivered: 0, duplicated: 0, outOfOrder: 0 };
  for (const client of clients) {
    result.sent += client.sent;
    result.expected += client.sent * (roomSize.get(client.roomId) ?? 0);
    for (const track of client.tracks.values()) {
      result.delivered += track.distinct;
      result.duplicated += track.duplicates;
      result.outOfOrder += track.outOfOrder;
    }
  }
  return result;
}

async function connectAll(clients: readonly SoakClient[], url: string): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < clients.length) {
      try {
        await clients[next++].connect(url);
      } catch (error) {
        // Stop the other workers too: a refused client usually means the rest would be refused.
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
}

/**
 * Sends from every sender at `rate` in total, each on its own schedule (staggered so the load is
 * even), until stopped. Deadlines rather than one interval per sender keep the achieved rate on
 * target; a sender whose loop stalled skips what it missed instead of bursting into the limit.
 */
function startSending(
  senders: readonly SoakClient[],
  rate: number,
  seen: Observations,
): () => void {
  const intervalMs = (1000 * senders.length) / rate;
  const start = performance.now();
  const nextAt = senders.map((_, i) => start + (i * intervalMs) / senders.length);
  const timer = setInterval(() => {
    const t = performance.now();
    senders.forEach((sender, i) => {
      let burst = 0;
      while (nextAt[i] <= t && burst < MAX_CATCH_UP) {
        sender.sendNext();
        nextAt[i] += intervalMs;
        burst++;
      }
      if (nextAt[i] <= t) {
        const missed = Math.floor((t - nextAt[i]) / intervalMs) + 1;
        seen.sendsSkipped += missed;
        nextAt[i] += missed * intervalMs;
      }
    });
  }, SEND_TICK_MS);
  return () => clearInterval(timer);
}

// ---------------------------------------------------------------------------------------------
// The server under test

interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Counts of the server's warning and error lines, and the first few of them. */
class ServerLog {
  lines = 0;
  errors = 0;
  warnings = 0;
  readonly notable: string[] = [];
  /** The last lines, to show why a server that stopped on its own did. */
  readonly tail: string[] = [];
  private static readonly ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

  add(raw: string, fromStderr: boolean): string {
    const line = raw.replace(ServerLog.ANSI, '');
    this.lines++;
    this.tail.push(line);
    if (this.tail.length > 10) this.tail.shift();
    const error = /\s(ERROR|FATAL)\s|"level":"(error|fatal)"/.test(line);
    const warning = /\sWARN\s|"level":"warn"|Warning:/.test(line);
    if (error) this.errors++;
    else if (warning) this.warnings++;
    if ((error || warning || fromStderr) && this.notable.length < 20) this.notable.push(line);
    return line;
  }
}

class ChildServer {
  exit: ServerExit | undefined;
  readonly exited: Promise<ServerExit>;

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    readonly command: string,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  /** Starts the server on a free loopback port; resolves with its WebSocket URL once it listens. */
  static start(root: string, log: ServerLog): Promise<{ server: ChildServer; url: string }> {
    const built = existsSync(path.join(root, 'dist', 'main.js'));
    const args = built
      ? ['dist/main.js']
      : ['-r', 'ts-node/register/transpile-only', 'src/main.ts'];
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) return Promise.reject(new Error('could not start the server'));
    const server = new ChildServer(child, child.pid, `node ${args.join(' ')}`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the server did not listen within ${SERVER_START_TIMEOUT_MS} ms`));
      }, SERVER_START_TIMEOUT_MS);
      const watch = (stream: Readable | null, fromStderr: boolean): void => {
        if (!stream) return;
        readline.createInterface({ input: stream }).on('line', (raw) => {
          const line = log.add(raw, fromStderr);
          const port = /listening on http:\/\/\S+:(\d+)/.exec(line)?.[1];
          if (port === undefined) return;
          clearTimeout(timer);
          resolve({ server, url: `ws://127.0.0.1:${port}/ws` });
        });
      };
      watch(child.stdout, false);
      watch(child.stderr, true);
      void server.exited.then((exit) => {
        clearTimeout(timer);
        reject(new Error(`the server exited before listening (${describeExit(exit)})`));
      });
    });
  }

  /** SIGTERM, then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs: number): Promise<ServerExit> {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  kill(): void {
    if (!this.exit) this.child.kill('SIGKILL');
  }
}

function describeExit(exit: ServerExit | undefined): string {
  if (!exit) return 'still running';
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

/** True when some file under src/ is newer than dist/main.js: the build would not be what is tested. */
function distIsStale(root: string): boolean {
  const main = path.join(root, 'dist', 'main.js');
  if (!existsSync(main)) return false;
  const built = statSync(main).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? newer(full) : statSync(full).mtimeMs > built;
    });
  return newer(path.join(root, 'src'));
}

// ---------------------------------------------------------------------------------------------
// The run

interface Run {
  args: Args;
  url?: string;
  serverCommand?: string;
  server?: ChildServer;
  log: ServerLog;
  rss: RssSampler;
  loopDelay: IntervalHistogram;
  clients: SoakClient[];
  seen: Observations;
  sendingMs: number;
  drainMs: number;
  loadAtStart?: string;
  stoppedEarly?: string;
  setupError?: string;
  serverExit?: ServerExit;
}

async function soak(run: Run, root: string, interrupted: Promise<string>): Promise<void> {
  const { args } = run;
  if (args.url) {
    run.url = args.url;
  } else {
    if (distIsStale(root)) {
      console.log(
        'warning: dist/ is older than src/; run `npx nest build` to soak the current code',
      );
    }
    const started = await ChildServer.start(root, run.log);
    run.server = started.server;
    run.url = started.url;
    run.serverCommand = started.server.command;
    run.rss = new RssSampler(started.server.pid);
  }
  const serverGone = run.server
    ? run.server.exited.then((exit) => `the server stopped by itself (${describeExit(exit)})`)
    : new Promise<string>(() => undefined);
  run.rss.start();
  run.rss.mark('idle');
  console.log(
    `soak: ${args.clients} clients in ${args.rooms} rooms; ${args.senders} senders, ` +
      `${args.rate} msg/s in total; ${args.minutes} min against ${run.url}` +
      (run.serverCommand ? ` (${run.serverCommand}, pid ${run.server?.pid})` : ''),
  );

  const roster = new Map<string, SoakClient>();
  for (let i = 0; i < args.clients; i++) {
    const client = new SoakClient(i, `soak-u${i}`, `soak-r${i % args.rooms}`, roster, run.seen);
    roster.set(client.userId, client);
    run.clients.push(client);
  }
  const connectStart = performance.now();
  await connectAll(run.clients, run.url);
  console.log(
    `connected and joined ${args.clients} clients in ${Math.round(performance.now() - connectStart)} ms`,
  );

  // Senders are spread over the rooms: client i is in room i % R.
  const senders = run.clients.slice(0, args.senders);
  run.rss.origin = performance.now();
  run.rss.mark('0');
  run.loopDelay.enable();
  run.loadAtStart = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  const stopSending = startSending(senders, args.rate, run.seen);
  const sendStart = performance.now();
  const durationMs = args.minutes * 60_000;
  let minute = 0;
  const progress = setInterval(() => {
    minute++;
    run.rss.mark(String(minute));
    const t = tally(run.clients);
    const rss = run.rss.marks[run.rss.marks.length - 1]?.kb;
    const window = run.seen.latencyWindow;
    run.seen.latencyWindow = new LatencyHistogram();
    console.log(
      `minute ${minute}: sent ${t.sent}, delivered ${t.delivered}/${t.expected}; this minute ` +
        `p50 ${fmt(window.quantile(0.5), 2)}, p99 ${fmt(window.quantile(0.99), 2)}, ` +
        `max ${fmt(window.max, 2)} ms` +
        (rss === undefined ? '' : `; server RSS ${mb(rss)} MB`),
    );
  }, 60_000);
  const ended = await Promise.race([delay(durationMs, undefined), serverGone, interrupted]);
  stopSending();
  clearInterval(progress);
  run.sendingMs = performance.now() - sendStart;
  run.stoppedEarly = ended;
  // A run of whole minutes ends on a minute mark, which the progress timer may just have taken
  // (timers drift, so it may also come a moment too late).
  const whole = Math.round(run.sendingMs / 60_000);
  const onMinute = Math.abs(run.sendingMs - whole * 60_000) < 1_000;
  const last = run.rss.marks[run.rss.marks.length - 1];
  if (onMinute && minute === whole) last.label += ' (end)';
  else run.rss.mark(`${onMinute ? whole : fmt(run.sendingMs / 60_000, 2)} (end)`);

  // Drain: wait for what is still in flight, but not for what will never come.
  const drainStart = performance.now();
  while (!run.stoppedEarly && performance.now() - drainStart < DRAIN_MAX_MS) {
    const t = tally(run.clients);
    if (t.delivered >= t.expected) break;
    await delay(100);
  }
  run.drainMs = performance.now() - drainStart;
  run.loopDelay.disable();

  await Promise.all(run.clients.map((client) => client.close(CLOSE_TIMEOUT_MS)));
  // Give the server a moment to run its disconnect handlers before the post-close sample.
  await delay(2_000);
  run.rss.mark('after close');
}

function fmt(value: number | undefined, digits = 1): string {
  return value === undefined ? 'n/a' : value.toFixed(digits);
}

/** Least-squares slope of RSS in MB per minute over the samples from `fromMs` on. */
function rssSlope(samples: readonly RssSample[], fromMs: number, toMs: number): number | undefined {
  const points = samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
  if (points.length < 3) return undefined;
  const xs = points.map((p) => p.atMs / 60_000);
  const ys = points.map((p) => p.kb / 1024);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i] - my);
    den += (x - mx) ** 2;
  });
  return den === 0 ? undefined : num / den;
}

/** Prints the report; returns the failures (empty when the run passed). */
function report(run: Run, cutOff: boolean): string[] {
  const t = tally(run.clients);
  const { args, seen, rss } = run;
  const load = os.loadavg().map((l) => l.toFixed(2));
  // Other work on the machine shows up as latency: the load average says whether there was any.
  const lost = t.expected - t.delivered;
  const errorFrames = [...seen.errorCodes.values()].reduce((a, b) => a + b, 0);
  const during = rss.samples.filter((s) => s.atMs >= 0 && s.atMs <= run.sendingMs);
  const startKb = rss.marks.find((m) => m.label === '0')?.kb;
  const endKb = rss.marks.find((m) => m.label.endsWith('(end)'))?.kb;
  const maxKb = rss.samples.length ? Math.max(...rss.samples.map((s) => s.kb)) : undefined;
  const slope = rssSlope(during, Math.min(60_000, run.sendingMs / 2), run.sendingMs);
  const failures: string[] = [];
  if (run.setupError) failures.push(`setup failed: ${run.setupError}`);
  if (cutOff) failures.push(`cut off at ${args.minutes + 1} min`);
  if (run.stoppedEarly) failures.push(`stopped early: ${run.stoppedEarly}`);
  if (lost > 0) failures.push(`${lost} deliveries lost`);
  if (t.duplicated > 0) failures.push(`${t.duplicated} deliveries duplicated`);
  if (t.outOfOrder > 0) failures.push(`${t.outOfOrder} deliveries out of order`);
  if (seen.misrouted > 0) failures.push(`${seen.misrouted} deliveries misrouted`);
  if (seen.malformed > 0) failures.push(`${seen.malformed} malformed chat messages`);
  if (errorFrames > 0) failures.push(`${errorFrames} error frames`);
  if (seen.unexpectedCloses > 0) failures.push(`${seen.unexpectedCloses} unexpected closes`);
  const exit = run.serverExit;
  if (run.server && (!exit || exit.code !== 0)) failures.push(`server ${describeExit(exit)}`);

  const sendingS = run.sendingMs / 1000;
  const rows: [string, string][] = [
    [
      'messages sent',
      `${t.sent} (${fmt(sendingS > 0 ? t.sent / sendingS : undefined)}/s over ${fmt(sendingS)} s)`,
    ],
    ['deliveries expected', `${t.expected} (sent × members of the sender's room)`],
    [
      'delivered',
      `${t.delivered} (${fmt(sendingS > 0 ? t.delivered / sendingS : undefined, 0)}/s)`,
    ],
    ['lost', String(lost)],
    ['duplicated', String(t.duplicated)],
    ['out of order (per sender)', String(t.outOfOrder)],
    ['misrouted / malformed', `${seen.misrouted} / ${seen.malformed}`],
    ['error frames', errorFrames ? JSON.stringify(Object.fromEntries(seen.errorCodes)) : '0'],
    [
      'unexpected closes',
      seen.unexpectedCloses
        ? `${seen.unexpectedCloses} ${JSON.stringify(Object.fromEntries(seen.closeCodes))}`
        : '0',
    ],
    ['other frames', JSON.stringify(Object.fromEntries(seen.otherFrames))],
    ['sends skipped (closed / late)', `${seen.sendsOnClosed} / ${seen.sendsSkipped}`],
    [
      'latency p50 / p99 / max',
      `${fmt(seen.latency.quantile(0.5), 2)} / ${fmt(seen.latency.quantile(0.99), 2)} / ${fmt(seen.latency.max, 2)} ms`,
    ],
    [
      'soak client loop delay p99 / max',
      `${fmt(nsToMs(run.loopDelay.percentile(99)))} / ${fmt(nsToMs(run.loopDelay.max))} ms`,
    ],
    ['drain', `${fmt(run.drainMs / 1000)} s`],
    [
      'server',
      run.serverCommand
        ? `${run.serverCommand}: ${describeExit(exit)}`
        : `${run.url} (not started here)`,
    ],
    [
      'server log',
      `${run.log.lines} lines, ${run.log.errors} errors, ${run.log.warnings} warnings`,
    ],
    ['machine', machine()],
    ['load average 1/5/15 min', `${run.loadAtStart ?? 'n/a'} at start, ${load.join(' ')} at end`],
  ];
  console.log('\n=== soak report ===');
  for (const [label, value] of rows) console.log(`${label.padEnd(34)}${value}`);
  if (run.stoppedEarly && run.log.tail.length > 0) {
    console.log('last lines of the server output:');
    for (const line of run.log.tail) console.log(`  ${line}`);
  }
  if (run.log.notable.length > 0) {
    console.log('server warnings, errors and stderr (first 20):');
    for (const line of run.log.notable) console.log(`  ${line}`);
  }
  if (rss.marks.length > 0 && rss.samples.length > 0) {
    console.log('\nserver RSS\n  minute          RSS MB');
    for (const m of rss.marks) console.log(`  ${m.label.padEnd(16)}${fmt(mb(m.kb))}`);
    console.log(
      `  start ${fmt(mb(startKb))} MB, end ${fmt(mb(endKb))} MB, max ${fmt(mb(maxKb))} MB ` +
        `(${rss.samples.length} samples every ${RSS_SAMPLE_MS / 1000} s; peak VmHWM ` +
        `${fmt(mb(rss.peakKbAtEnd))} MB); slope while sending ${fmt(slope, 2)} MB/min`,
    );
  } else {
    console.log('\nserver RSS: not sampled (give --pid with --url)');
  }
  console.log(`\nresult: ${failures.length === 0 ? 'PASS' : `FAIL: ${failures.join('; ')}`}`);
  const summary = {
    ok: failures.length === 0,
    minutes: args.minutes,
    clients: args.clients,
    rooms: args.rooms,
    senders: args.senders,
    rateTarget: args.rate,
    rateAchieved: sendingS > 0 ? round(t.sent / sendingS, 1) : null,
    sent: t.sent,
    expected: t.expected,
    delivered: t.delivered,
    lost,
    duplicated: t.duplicated,
    outOfOrder: t.outOfOrder,
    misrouted: seen.misrouted,
    errorFrames,
    unexpectedCloses: seen.unexpectedCloses,
    latencyMs: {
      p50: round(seen.latency.quantile(0.5), 2),
      p99: round(seen.latency.quantile(0.99), 2),
      max: round(seen.latency.max, 2),
    },
    rssMb: {
      idle: mb(rss.marks.find((m) => m.label === 'idle')?.kb) ?? null,
      start: mb(startKb) ?? null,
      end: mb(endKb) ?? null,
      max: mb(maxKb) ?? null,
      afterClose: mb(rss.marks.find((m) => m.label === 'after close')?.kb) ?? null,
      slopePerMin: round(slope, 2),
    },
    serverExitCode: exit ? exit.code : null,
    serverLog: { errors: run.log.errors, warnings: run.log.warnings },
    failures,
  };
  console.log(JSON.stringify(summary));
  return failures;
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, node ${process.version}, ${os.platform()} ${os.release()}`;
}

function nsToMs(ns: number): number | undefined {
  return Number.isFinite(ns) && ns > 0 ? ns / 1e6 : undefined;
}

function round(value: number | undefined, digits: number): number | null {
  if (value === undefined) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    console.error(`soak: ${args}\n\n${USAGE}`);
    return 2;
  }
  const root = path.resolve(__dirname, '..');
  const run: Run = {
    args,
    log: new ServerLog(),
    rss: new RssSampler(args.pid),
    loopDelay: monitorEventLoopDelay({ resolution: 10 }),
    clients: [],
    seen: new Observations(),
    sendingMs: 0,
    drainMs: 0,
  };

  // The hard stop: whatever hangs (server, sockets, this loop's own awaits), the run ends here.
  const hardStop = setTimeout(
    () => {
      if (run.server && !run.server.exit) {
        run.server.kill();
        run.serverExit = { code: null, signal: 'SIGKILL' };
      }
      report(run, true);
      process.exit(3);
    },
    (args.minutes + 1) * 60_000,
  );
  let onSigint: () => void = () => undefined;
  const interrupted = new Promise<string>((resolve) => {
    onSigint = () => resolve('interrupted (SIGINT)');
    process.once('SIGINT', onSigint);
  });

  try {
    await soak(run, root, interrupted);
  } catch (error) {
    run.setupError = error instanceof Error ? error.message : String(error);
    await Promise.all(run.clients.map((client) => client.close(CLOSE_TIMEOUT_MS)));
  } finally {
    process.off('SIGINT', onSigint);
  }
  run.rss.peakKbAtEnd = run.rss.peakKb();
  run.rss.stop();
  if (run.server) run.serverExit = await run.server.stop(SERVER_STOP_TIMEOUT_MS);
  clearTimeout(hardStop);
  return report(run, false).length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
