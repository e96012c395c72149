/* The HTTP and handshake attacks: pipelining, idle and slow sockets, log floods, forged addresses. */
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import {
  ATTACKER,
  Attack,
  MAX_SOCKETS,
  PROBE,
  closeAll,
  openSockets,
  percentile,
  rawSocket,
  round,
  text,
  underProbes,
} from './harness';

export const httpAttacks: Record<string, Attack> = {
  pipeline: {
    summary: '[--sockets 40] [--requests 20000]  pipelined GET /health/live, never read',
    async run(server, options) {
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
  },

  idle: {
    summary: '[--sockets 19000] [--drip-ms MS]    sockets that send nothing (or drip a header)',
    async run(server, options) {
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
  },

  'slow-body': {
    summary: '[--sockets 1]  POST with a 10 MB Content-Length and no body',
    async run(server, options) {
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
          heldMs:
            closedByServer > 0 ? round(percentile(held, 100)) : `> ${options.seconds ?? 60} s`,
        };
      });
    },
  },

  'log-flood': {
    summary: '[--concurrency 20]  90-byte POSTs announcing 10 MB, aborted',
    async run(server, options) {
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
            await Promise.race([
              new Promise((resolve) => socket.once('close', resolve)),
              delay(50),
            ]);
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
  },

  spoof: {
    summary: '[--sockets 20] [--extra 200]  forged Fly-Client-IP (sets TRUST_PROXY=true)',
    setup: (options) =>
      Promise.resolve({
        env: {
          TRUST_PROXY: 'true',
          MAX_CONNECTIONS_PER_IP: String(options.sockets ?? 20),
          // 127.0.0.1 is the proxy; the attacker (127.0.0.2) reaches the port directly.
          TRUSTED_PROXIES: '127.0.0.1',
        },
      }),
    async run(server, options) {
      const count = Number(options.sockets ?? 20);
      const extra = Number(options.extra ?? 200);
      const open = (localAddress: string, headers: Record<string, string> = {}) =>
        new Promise<WebSocket | number>((resolve) => {
          const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, {
            localAddress,
            headers,
          });
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
  },

  surrogate: {
    summary: 'a chat message with a lone surrogate',
    async run(server) {
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
  },
};
