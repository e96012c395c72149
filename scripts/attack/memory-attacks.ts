/* The memory attacks: history filled within the rate limit, and events of several megabytes. */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { ATTACKER, Attack, AttackSetup, Options, freePort, text, underProbes } from './harness';

const API_KEY = 'attack-api-key-0123456789';

/** A throwaway redis-server on a free loopback port when `--redis 1`; none otherwise. */
async function redisSetup(options: Options, env: Record<string, string>): Promise<AttackSetup> {
  if (!Number(options.redis ?? 0)) return { env };
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  // For `run`, which measures Redis' memory.
  options['redis-url'] = url;
  for (let attempt = 0; attempt < 100; attempt++) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined); // refused until redis-server listens
    const up = await client.connect().then(
      () => true,
      () => false,
    );
    client.disconnect();
    if (up) break;
    await delay(100);
  }
  return {
    env: { ...env, REDIS_URL: url },
    cleanup: async () => {
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/** Redis' used_memory in MB, from INFO memory. */
async function redisUsedMb(url: string): Promise<number> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const info = await client.info('memory');
    const bytes = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
    return Math.round((bytes / 1_048_576) * 10) / 10;
  } finally {
    client.disconnect();
  }
}

/** Opens a socket from the attacker address; resolves once open (undefined if refused). */
function open(port: number, path = '/ws'): Promise<WebSocket | undefined> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`, { localAddress: ATTACKER });
    socket.on('error', () => resolve(undefined));
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', () => resolve(undefined));
  });
}

export const memoryAttacks: Record<string, Attack> = {
  'history-memory': {
    summary:
      '[--connections 60] [--rooms 10] [--length 9990] [--char €] [--redis 0|1]  fill history within the rate limit',
    setup: (options) => redisSetup(options, {}),
    async run(server, options) {
      const connections = Number(options.connections ?? 60);
      const rooms = Number(options.rooms ?? 10);
      // Two-byte text (as any non-Latin-1 language is): what V8 and the history count it as.
      const content = String(options.char ?? '€').repeat(Number(options.length ?? 9_990));
      const redisUrl = String(options['redis-url'] ?? '');
      const usedBefore = redisUrl ? await redisUsedMb(redisUrl) : undefined;
      let sent = 0;
      const errors: Record<string, number> = {};
      const closes: Record<number, number> = {};
      const result = await underProbes(server, Number(options.seconds ?? 45), async (signal) => {
        const worker = async (n: number): Promise<void> => {
          const socket = await open(server.port);
          if (!socket) return;
          socket.on('message', (data: WebSocket.RawData) => {
            const frame = text(data);
            if (!frame.startsWith('{"type":"error"')) return;
            const code = /"code":"([a-z_]+)"/.exec(frame)?.[1] ?? 'unknown';
            errors[code] = (errors[code] ?? 0) + 1;
          });
          socket.once('close', (code) => {
            if (!signal.aborted) closes[code] = (closes[code] ?? 0) + 1;
          });
          const userId = `hm${n}`;
          const room = (k: number): string => `hm-${n}-${k}`;
          socket.send(JSON.stringify({ type: 'join', userId, roomId: room(0) }));
          await delay(300);
          // Per round: a switch (5 tokens) and 10 messages 60 ms apart: about 17 tokens a second,
          // under RATE_LIMIT_PER_SECOND (20).
          for (let round = 0; !signal.aborted && socket.readyState === WebSocket.OPEN; round++) {
            const k = round % rooms;
            if (round > 0) {
              socket.send(JSON.stringify({ type: 'switch_room', userId, roomId: room(k) }));
              await delay(250);
            }
            for (let i = 0; i < 10 && !signal.aborted; i++) {
              if (socket.readyState !== WebSocket.OPEN) break;
              socket.send(JSON.stringify({ type: 'chat_message', userId, content }));
              sent += 1;
              await delay(60);
            }
          }
          socket.terminate();
        };
        await Promise.all(Array.from({ length: connections }, (_, n) => worker(n)));
        return { connections, roomsEach: rooms, characters: content.length };
      });
      return {
        ...result,
        messagesSent: sent,
        errorFrames: errors,
        closedByServer: closes,
        ...(redisUrl && {
          redisUsedMb: `${usedBefore} -> ${await redisUsedMb(redisUrl).catch(() => 'unreachable')}`,
        }),
      };
    },
  },

  'huge-event': {
    summary:
      '[--followers 20] [--mb 4] [--replay-events 40] [--replay-kb 200]  a 4 MB event through POST /api/rpc, then a replay of 8 MB',
    setup: () => Promise.resolve({ env: { API_KEY, MAX_PAYLOAD_BYTES: String(16 * 1_048_576) } }),
    async run(server, options) {
      const count = Number(options.followers ?? 20);
      const bytes = Number(options.mb ?? 4) * 1_048_576;
      const replayEvents = Number(options['replay-events'] ?? 40);
      const replayBytes = Number(options['replay-kb'] ?? 200) * 1024;
      const room = 'workspace:huge';
      const post = async (content: string): Promise<string> => {
        const params = {
          workspace_id: 'huge',
          file_path: 'big.txt',
          event_type: 'modify',
          content,
        };
        const response = await fetch(`http://127.0.0.1:${server.port}/api/rpc`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
          body: JSON.stringify({ method: 'workspace.file_changed', params }),
        });
        const answer = (await response.json()) as { success?: boolean; error?: { code?: string } };
        return `${response.status} ${answer.success === false ? (answer.error?.code ?? 'error') : 'published'}`;
      };
      const followers: { socket: WebSocket; closes: number[]; offset?: number; epoch?: string }[] =
        [];
      for (let i = 0; i < count; i++) {
        const socket = await open(server.port);
        if (!socket) continue;
        const follower = { socket, closes: [] as number[] } as (typeof followers)[number];
        socket.once('close', (code) => follower.closes.push(code));
        const answered = new Promise<void>((resolve) => {
          const onMessage = (data: WebSocket.RawData): void => {
            const frame = JSON.parse(text(data)) as {
              correlation_id?: string;
              result?: { offset: number; epoch: string };
            };
            if (frame.correlation_id !== 'j') return;
            follower.offset = frame.result?.offset;
            follower.epoch = frame.result?.epoch;
            socket.off('message', onMessage);
            resolve();
          };
          socket.on('message', onMessage);
        });
        socket.send(
          JSON.stringify({
            type: 'rpc',
            method: 'join_room',
            params: { room },
            correlation_id: 'j',
          }),
        );
        await answered;
        followers.push(follower);
      }
      const huge = await post('x'.repeat(bytes));
      await delay(2_000);
      const closed1013 = followers.filter((f) => f.closes.includes(1013)).length;
      // Then events within every bound, that a follower who was away must catch up on at once.
      const answers: Record<string, number> = {};
      for (const follower of followers) follower.socket.terminate();
      for (let i = 0; i < replayEvents; i++) {
        const answer = await post(`${i}:`.padEnd(replayBytes, 'y'));
        answers[answer] = (answers[answer] ?? 0) + 1;
      }
      // Every follower comes back with the position it had: the recovery replays what it missed.
      let recovered = 0;
      let recoveryClosed1013 = 0;
      const replayed: number[] = [];
      for (const follower of followers) {
        const socket = await open(server.port);
        if (!socket) continue;
        const closes: number[] = [];
        socket.once('close', (code) => closes.push(code));
        let events = 0;
        const since = { offset: follower.offset, epoch: follower.epoch };
        const done = new Promise<boolean>((resolve) => {
          socket.on('message', (data: WebSocket.RawData) => {
            const frame = text(data);
            if (frame.startsWith('{"type":"event"')) events += 1;
            if (frame.includes('"correlation_id":"r"')) resolve(frame.includes('"recovered":true'));
          });
          socket.once('close', () => resolve(false));
        });
        socket.send(
          JSON.stringify({
            type: 'rpc',
            method: 'join_room',
            params: { room, since },
            correlation_id: 'r',
          }),
        );
        const ok = await Promise.race([done, delay(20_000).then(() => false)]);
        if (ok && socket.readyState === WebSocket.OPEN) recovered += 1;
        replayed.push(events);
        if (closes.includes(1013)) recoveryClosed1013 += 1;
        socket.terminate();
      }
      return {
        hugeEvent: `${bytes} bytes: ${huge}`,
        liveFollowersClosed1013: `${closed1013} of ${followers.length}`,
        replayEvents: `${replayEvents} of ${replayBytes} bytes: ${JSON.stringify(answers)}`,
        recoveriesCompleted: `${recovered} of ${followers.length}`,
        recoveriesClosed1013: recoveryClosed1013,
        eventsReplayedPerRecovery: `min ${Math.min(...replayed)}, max ${Math.max(...replayed)}`,
      };
    },
  },
};
