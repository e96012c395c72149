/* What a request costs: history pulled at the rate limit, and a follow storm over RPC. */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { RedisServer } from '../../test/support/redis-server';
import {
  ATTACKER,
  Attack,
  AttackSetup,
  Options,
  PROBE_TIMEOUT_MS,
  round,
  text,
  underProbes,
} from './harness';

const API_KEY = 'attack-api-key-0123456789';

/** Longest chat message under the default MAX_MESSAGE_LENGTH (10,000). */
const LONG = 'x'.repeat(9_990);

/** Counts of what attacker sockets received, by frame type (read from the frame's first bytes). */
class Tally {
  readonly frames = new Map<string, number>();
  bytes = 0;
  closes = 0;

  count(data: WebSocket.RawData): string {
    const buffer = Buffer.isBuffer(data) ? data : Buffer.from(text(data));
    this.bytes += buffer.length;
    const type = /^\{"type":"([a-z_]+)"/.exec(buffer.toString('latin1', 0, 40))?.[1] ?? '?';
    this.frames.set(type, (this.frames.get(type) ?? 0) + 1);
    return type;
  }

  get summary(): Record<string, unknown> {
    return {
      framesByType: Object.fromEntries(this.frames),
      receivedMb: round(this.bytes / 1_048_576),
      closedByServer: this.closes,
    };
  }
}

/** Opens a socket from the attacker address; resolves once open. */
function open(port: number): Promise<WebSocket> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
    localAddress: ATTACKER,
    handshakeTimeout: PROBE_TIMEOUT_MS * 6,
  });
  socket.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    socket.once('unexpected-response', () => reject(new Error('refused')));
  });
}

/** Resolves with the first frame `socket` receives whose text `matches`, or undefined after `ms`. */
function nextFrame(
  socket: WebSocket,
  matches: (frame: string) => boolean,
  ms = PROBE_TIMEOUT_MS * 6,
  maxLength = 4_096,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const done = (frame: string | undefined): void => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      socket.off('close', onClose);
      resolve(frame);
    };
    const onMessage = (data: WebSocket.RawData): void => {
      // Only short frames are read: decoding every large one would load this process, not the server.
      if (Buffer.isBuffer(data) && data.length > maxLength) return;
      const frame = text(data);
      if (matches(frame)) done(frame);
    };
    const onClose = (): void => done(undefined);
    const timer = setTimeout(() => done(undefined), ms);
    socket.on('message', onMessage);
    socket.once('close', onClose);
  });
}

/** Joins `room` as `userId`; resolves once joined. */
async function join(socket: WebSocket, userId: string, room: string): Promise<void> {
  const joined = nextFrame(socket, (f) => f.startsWith('{"type":"joined"'));
  socket.send(JSON.stringify({ type: 'join', userId, roomId: room }));
  if (!(await joined)) throw new Error(`${userId} could not join ${room}`);
}

/** With `--redis 1`, a throwaway redis-server the server uses (stopped after it). */
async function withRedis(options: Options): Promise<AttackSetup> {
  if (!options.redis) return { env: {} };
  const redis = await RedisServer.start();
  return { env: { REDIS_URL: redis.url }, cleanup: () => redis.stop() };
}

export const costAttacks: Record<string, Attack> = {
  'history-pull': {
    summary:
      '[--connections 10] [--rate 19] [--limit 100] [--via frame|rpc] [--redis 1]  history of 10 KB frames at the rate limit',
    setup: withRedis,
    async run(server, options) {
      const connections = Number(options.connections ?? 10);
      const rate = Number(options.rate ?? 19);
      const limit = Number(options.limit ?? 100);
      const viaRpc = options.via === 'rpc';
      // The room's frames, sent within the rate limit: four writers of 25 messages each.
      for (let w = 0; w < 4; w++) {
        const writer = await open(server.port);
        await join(writer, `writer${w}`, 'hist');
        for (let i = 0; i < 25; i++) {
          const echo = nextFrame(
            writer,
            (f) => f.includes(`"content":"${i}:`),
            PROBE_TIMEOUT_MS * 6,
            20_000,
          );
          writer.send(
            JSON.stringify({ type: 'chat_message', userId: `writer${w}`, content: `${i}:${LONG}` }),
          );
          await echo;
        }
        writer.close();
      }
      const tally = new Tally();
      let answers = 0;
      let refused = 0;
      const started = performance.now();
      return underProbes(server, Number(options.seconds ?? 30), async (signal) => {
        const request = (n: number): string =>
          JSON.stringify(
            viaRpc
              ? {
                  type: 'rpc',
                  method: 'history',
                  params: { room: 'hist', limit },
                  correlation_id: `h${n}`,
                }
              : { type: 'history', roomId: 'hist', limit },
          );
        const puller = async (index: number): Promise<void> => {
          let n = 0;
          while (!signal.aborted) {
            const socket = await open(server.port).catch(() => undefined);
            if (!socket) {
              await delay(1_000);
              continue;
            }
            socket.on('message', (data) => {
              const type = tally.count(data);
              if (type === 'history' || type === 'response') answers += 1;
              else if (type === 'error' && text(data).includes('rate_limited')) refused += 1;
            });
            const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
            await join(socket, `puller${index}`, `pull${index}`).catch(() => undefined);
            const timer = setInterval(() => {
              if (socket.readyState === WebSocket.OPEN) socket.send(request(++n));
            }, 1_000 / rate);
            const ended = await Promise.race([
              closed.then(() => 'closed'),
              new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })),
            ]);
            clearInterval(timer);
            if (ended === 'closed') tally.closes += 1;
            else socket.terminate();
          }
        };
        await Promise.all(Array.from({ length: connections }, (_, i) => puller(i)));
        const seconds = (performance.now() - started) / 1_000;
        return {
          connections,
          ratePerConnection: rate,
          via: viaRpc ? 'rpc' : 'frame',
          answers,
          refusedRateLimited: refused,
          pulledMbPerSecond: round(tally.bytes / 1_048_576 / seconds),
          ...tally.summary,
        };
      });
    },
  },

  'follow-storm': {
    summary:
      '[--sockets 300] [--rooms 128] [--cost 1] [--redis 1]  each socket follows the same rooms by join_room (paced for a join_room of --cost tokens)',
    setup: withRedis,
    async run(server, options) {
      const count = Number(options.sockets ?? 300);
      const roomCount = Number(options.rooms ?? 128);
      // The client keeps under RATE_LIMIT_PER_SECOND (20) by its own clock, for calls of `cost`.
      const cost = Number(options.cost ?? 1);
      const rooms = Array.from({ length: roomCount }, (_, i) => `storm:${i}`);
      const tally = new Tally();
      const sockets: WebSocket[] = [];
      let refused = 0;
      let failed = 0;
      const finished: number[] = [];
      const ours = new WeakSet<WebSocket>();
      return underProbes(server, Number(options.seconds ?? 90), async (signal) => {
        const started = performance.now();
        for (let i = 0; i < count; i++) {
          const socket = await open(server.port).catch(() => undefined);
          if (!socket) {
            failed += 1;
            continue;
          }
          socket.on('message', (data) => tally.count(data));
          socket.once('close', () => {
            if (!ours.has(socket)) tally.closes += 1;
          });
          sockets.push(socket);
        }
        const follow = async (socket: WebSocket, index: number): Promise<void> => {
          let tokens = 38;
          let at = performance.now();
          for (let r = 0; r < rooms.length && !signal.aborted;) {
            const now = performance.now();
            tokens = Math.min(38, tokens + ((now - at) * 19) / 1_000);
            at = now;
            if (tokens < cost) {
              await delay(((cost - tokens) * 1_000) / 19);
              continue;
            }
            tokens -= cost;
            const id = `f${index}-${r}`;
            const answer = nextFrame(socket, (f) => f.length < 2_000 && f.includes(`"${id}"`));
            socket.send(
              JSON.stringify({
                type: 'rpc',
                method: 'join_room',
                params: { room: rooms[r] },
                correlation_id: id,
              }),
            );
            const frame = await answer;
            if (frame === undefined) return;
            if (frame.includes('rate_limited')) {
              refused += 1;
              await delay(1_000);
              continue;
            }
            r += 1;
          }
          finished.push(performance.now() - started);
        };
        await Promise.all(sockets.map((socket, i) => follow(socket, i)));
        const joinsMs = performance.now() - started;
        // The leave storm as well, while the probes go on.
        await delay(3_000, undefined, { signal }).catch(() => undefined);
        for (const socket of sockets) {
          ours.add(socket);
          socket.close();
        }
        await delay(5_000, undefined, { signal }).catch(() => undefined);
        for (const socket of sockets) socket.terminate();
        return {
          sockets: sockets.length,
          failedToConnect: failed,
          rooms: roomCount,
          joinCostPaced: cost,
          followedAll: finished.length,
          stormSeconds: round(joinsMs / 1_000),
          refusedRateLimited: refused,
          ...tally.summary,
        };
      });
    },
  },
  'history-batches': {
    summary:
      '[--batches 8] [--rounds 3] [--frame-kb 60]  concurrent POST /api/rpc batches of 100 history calls of a room of 100 large frames',
    setup: () => Promise.resolve({ env: { API_KEY, MAX_PAYLOAD_BYTES: String(1_048_576) } }),
    async run(server, options) {
      const batches = Number(options.batches ?? 8);
      const rounds = Number(options.rounds ?? 3);
      const content = 'x'.repeat(Number(options['frame-kb'] ?? 60) * 1_000);
      const url = `http://127.0.0.1:${server.port}/api/rpc`;
      const post = (body: unknown): Promise<Response> =>
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
          body: JSON.stringify(body),
        });
      // The room: 100 session messages, 10 per request.
      for (let first = 0; first < 100; first += 10) {
        await post(
          Array.from({ length: 10 }, (_, i) => ({
            method: 'session.message',
            params: {
              session_id: 'x',
              message_id: `m${first + i}`,
              role: 'assistant',
              content,
              is_streaming: false,
              is_final: true,
            },
          })),
        );
      }
      const batch = Array.from({ length: 100 }, () => ({
        method: 'history',
        params: { room: 'session:x', limit: 100 },
      }));
      const replies: Record<string, number> = {};
      let failedRequests = 0;
      let receivedBytes = 0;
      return underProbes(server, Number(options.seconds ?? 10), async () => {
        for (let r = 0; r < rounds; r++) {
          await Promise.all(
            Array.from({ length: batches }, async () => {
              try {
                const body = await (await post(batch)).text();
                receivedBytes += Buffer.byteLength(body);
                for (const reply of JSON.parse(body) as {
                  success: boolean;
                  error_code?: string;
                  result?: { truncated?: boolean };
                }[]) {
                  const kind = reply.success
                    ? reply.result?.truncated
                      ? 'truncated'
                      : 'whole'
                    : (reply.error_code ?? 'error');
                  replies[kind] = (replies[kind] ?? 0) + 1;
                }
              } catch {
                failedRequests += 1;
              }
            }),
          );
        }
        return {
          batches,
          rounds,
          replies,
          failedRequests,
          receivedMb: round(receivedBytes / 1_048_576),
        };
      });
    },
  },
};
