import { isIPv4 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket, { RawData } from 'ws';
import { parseFrame, rawToString } from './lib/frames';

/*
 * Reproduces the presence and join/leave amplification attacks (issue "Hold under attacks that
 * stay inside every limit", item 2) against a server on this machine, at a size you choose, and
 * reports what they cost: frames and bytes the room's members received, bytes the attackers got
 * back, and the latency of chat in another room meanwhile. Loopback only, bounded in time.
 */

const USAGE = `Usage: npm run -s attack:presence -- --url ws://127.0.0.1:PORT [--attack build|presence|switch]
        [--members M] [--attackers A] [--rate PER_SEC] [--seconds S]

  build     M members join room "big" (default M 1000); counts the join frames they receive.
  presence  then A connections (default 30) ask presence of "big" at PER_SEC each (default 15).
  switch    then A connections (default 10) switch in and out of "big" at PER_SEC (default 18).
Meanwhile a probe pair chats in room "quiet" every 60 ms and measures delivery latency (of the
attack phase, or of the build with --attack build).
The server needs MAX_CONNECTIONS_PER_IP above M + A + 2.`;

const CONNECT_CONCURRENCY = 50;
/** 16.7 messages/s: under the default RATE_LIMIT_PER_SECOND of 20. */
const PROBE_EVERY_MS = 60;
const MAX_SECONDS = 120;

interface Args {
  url: string;
  attack: 'build' | 'presence' | 'switch';
  members: number;
  attackers: number;
  rate: number;
  seconds: number;
}

interface Counters {
  frames: number;
  bytes: number;
  byType: Record<string, number>;
}

function parseArgs(argv: string[]): Args | string {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) return USAGE;
    values.set(argv[i].slice(2), argv[i + 1]);
  }
  const url = values.get('url');
  if (!url) return USAGE;
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  if (!(host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.')))) {
    return `refusing ${host}: this attack runs against loopback only`;
  }
  const attack = values.get('attack') ?? 'build';
  if (attack !== 'build' && attack !== 'presence' && attack !== 'switch') return USAGE;
  const number = (key: string, fallback: number): number => {
    const value = Number(values.get(key) ?? fallback);
    return Number.isInteger(value) && value > 0 ? value : NaN;
  };
  const args: Args = {
    url,
    attack,
    members: number('members', 1000),
    attackers: number('attackers', attack === 'switch' ? 10 : 30),
    rate: number('rate', attack === 'switch' ? 18 : 15),
    seconds: Math.min(MAX_SECONDS, number('seconds', 20)),
  };
  return Object.values(args).some((v) => Number.isNaN(v)) ? USAGE : args;
}

/** Opens a socket that counts what it receives; resolves once it has joined `roomId`. */
async function member(url: string, userId: string, roomId: string, counters: Counters) {
  const socket = new WebSocket(url);
  socket.on('error', () => undefined);
  const joined = new Promise<void>((resolve, reject) => {
    socket.once('close', (code) => reject(new Error(`${userId} closed with ${code}`)));
    socket.on('message', (data: RawData) => {
      const text = rawToString(data);
      const frame = parseFrame(text);
      const type = typeof frame?.type === 'string' ? frame.type : '#other';
      if (type === 'joined') return resolve();
      counters.frames += 1;
      counters.bytes += Buffer.byteLength(text);
      counters.byType[type] = (counters.byType[type] ?? 0) + 1;
    });
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'join', userId, roomId }));
  await joined;
  return socket;
}

async function openAll(count: number, open: (i: number) => Promise<WebSocket>) {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i += CONNECT_CONCURRENCY) {
    const size = Math.min(CONNECT_CONCURRENCY, count - i);
    sockets.push(...(await Promise.all(Array.from({ length: size }, (_, k) => open(i + k)))));
  }
  return sockets;
}

const counters = (): Counters => ({ frames: 0, bytes: 0, byType: {} });

/** A pair in room "quiet": one sends every PROBE_EVERY_MS, the other records the latency. */
async function probe(url: string) {
  const latencies: number[] = [];
  const ignored = counters();
  const sender = await member(url, 'probe_sender', 'quiet', ignored);
  const receiver = await member(url, 'probe_receiver', 'quiet', ignored);
  receiver.on('message', (data: RawData) => {
    const frame = parseFrame(rawToString(data));
    if (frame?.type === 'chat_message' && frame.userId === 'probe_sender') {
      latencies.push(performance.now() - Number(frame.content));
    }
  });
  const timer = setInterval(() => {
    const content = String(performance.now());
    sender.send(JSON.stringify({ type: 'chat_message', userId: 'probe_sender', content }));
  }, PROBE_EVERY_MS);
  return {
    latencies,
    stop: () => {
      clearInterval(timer);
      sender.close();
      receiver.close();
    },
  };
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] * 10) / 10;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    console.error(args);
    return 2;
  }
  const startedAt = performance.now();
  const room = counters();
  const pair = await probe(args.url);
  const members = await openAll(args.members, (i) => member(args.url, `m${i}`, 'big', room));
  const buildMs = performance.now() - startedAt;
  const built = { ...room, byType: { ...room.byType } };
  const attackers = counters();
  const sockets: WebSocket[] = [];
  if (args.attack !== 'build') {
    Object.assign(room, counters());
    pair.latencies.length = 0;
    const home = (i: number) => `attacker_room_${i}`;
    sockets.push(
      ...(await openAll(args.attackers, (i) => member(args.url, `a${i}`, home(i), attackers))),
    );
    const until = performance.now() + args.seconds * 1000;
    let round = 0;
    while (performance.now() < until) {
      round += 1;
      sockets.forEach((socket, i) => {
        if (socket.readyState !== WebSocket.OPEN) return;
        const message =
          args.attack === 'presence'
            ? { type: 'presence', roomId: 'big' }
            : { type: 'switch_room', userId: `a${i}`, roomId: round % 2 ? 'big' : home(i) };
        socket.send(JSON.stringify(message));
      });
      await delay(1000 / args.rate);
    }
  }
  await delay(1500); // what is in flight (a last presence_diff) arrives
  pair.stop();
  const open = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
  for (const socket of [...members, ...sockets]) socket.terminate();
  const summary = {
    attack: args.attack,
    members: args.members,
    buildSeconds: Math.round(buildMs / 100) / 10,
    buildFramesToMembers: built.frames,
    buildBytesToMembers: built.bytes,
    buildByType: built.byType,
    ...(args.attack !== 'build' && {
      attackers: args.attackers,
      rate: args.rate,
      seconds: args.seconds,
      attackersStillOpen: open,
      framesToMembers: room.frames,
      bytesToMembers: room.bytes,
      membersByType: room.byType,
      bytesToAttackers: attackers.bytes,
      attackersByType: attackers.byType,
    }),
    probeMessages: pair.latencies.length,
    probeLatencyMs: {
      p50: percentile(pair.latencies, 0.5),
      p99: percentile(pair.latencies, 0.99),
      max: percentile(pair.latencies, 1),
    },
  };
  console.log(JSON.stringify(summary));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
