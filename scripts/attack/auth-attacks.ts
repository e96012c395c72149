/* The key set and authentication attacks: a stalling, flooding or huge JWKS, and silent sockets. */
import { KeyObject } from 'node:crypto';
import { get } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import WebSocket from 'ws';
import { JwksServer } from '../lib/jwks-server';
import { Attack, AttackSetup, PROBE, Server, percentile, round, rssKb } from './harness';

const SECRET = 'attack-secret-of-at-least-thirty-two-bytes';
/** The silent-socket attackers, each its own client address. */
const SILENT_ADDRESSES = ['127.0.0.4', '127.0.0.5', '127.0.0.6'];

/** The issuer of the JWKS attacks: one ES256 key `key-1`, and the endpoint serving it. */
interface Issuer {
  jwks: JwksServer;
  privateKey: KeyObject;
}
let issuer: Issuer | undefined;

async function jwksSetup(mode: JwksServer['mode'], hugeBytes?: number): Promise<AttackSetup> {
  const { privateKey, publicKey } = await generateKeyPair<KeyObject>('ES256', {
    extractable: true,
  });
  const jwks = new JwksServer();
  jwks.keys = [{ ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' }];
  jwks.mode = mode;
  if (hugeBytes !== undefined) jwks.hugeBytes = hugeBytes;
  const url = await jwks.start();
  issuer = { jwks, privateKey };
  return {
    env: { AUTH_MODE: 'jwt', JWT_JWKS_URL: url, LOG_LEVEL: 'log' },
    cleanup: () => jwks.stop(),
  };
}

function token(sub: string, kid = 'key-1', key: KeyObject | Uint8Array = current().privateKey) {
  const alg = key instanceof Uint8Array ? 'HS256' : 'ES256';
  return new SignJWT({ sub })
    .setProtectedHeader({ alg, kid })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key);
}

function current(): Issuer {
  if (!issuer) throw new Error('no issuer: the setup did not run');
  return issuer;
}

/** One login at the handshake: `ok` (auth frame), the refusal's HTTP status, or `timeout`. */
async function login(
  port: number,
  bearer: string,
  timeoutMs: number,
  localAddress = PROBE,
): Promise<{ outcome: string; ms: number }> {
  const started = performance.now();
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
    headers: { authorization: `Bearer ${bearer}` },
    localAddress,
  });
  socket.on('error', () => undefined);
  const outcome = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    const done = (value: string): void => {
      clearTimeout(timer);
      resolve(value);
    };
    socket.once('message', () => done('ok'));
    socket.once('unexpected-response', (_request, response) => done(`${response.statusCode}`));
    socket.once('close', () => done('closed'));
  });
  socket.terminate();
  return { outcome, ms: performance.now() - started };
}

function tally(outcomes: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
  return counts;
}

/** GET /health/ready: its status (or `timeout`), the `jwks` details and how long it took. */
function readiness(port: number, timeoutMs = 15_000): Promise<Record<string, unknown>> {
  const started = performance.now();
  return new Promise((resolve) => {
    const request = get(
      { host: '127.0.0.1', port, path: '/health/ready', localAddress: PROBE, agent: false },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.once('end', () => {
          let jwks: unknown;
          try {
            jwks = (JSON.parse(body) as { details?: { jwks?: unknown } }).details?.jwks;
          } catch {
            jwks = undefined;
          }
          resolve({
            status: response.statusCode,
            jwks: jwks ?? '(no jwks indicator)',
            ms: round(performance.now() - started),
          });
        });
      },
    );
    request.setTimeout(timeoutMs, () => {
      request.destroy();
      resolve({ status: 'timeout', ms: timeoutMs });
    });
    request.once('error', () => resolve({ status: 'error' }));
  });
}

/** `count` logins at once; how they ended and how long they took. */
async function logins(
  server: Server,
  count: number,
  timeoutMs: number,
  kid?: (i: number) => string,
) {
  const tokens = await Promise.all(
    Array.from({ length: count }, (_, i) => token(`user${i}`, kid?.(i))),
  );
  const results = await Promise.all(tokens.map((t) => login(server.port, t, timeoutMs)));
  const ms = results.map((r) => r.ms);
  return {
    outcomes: tally(results.map((r) => r.outcome)),
    ms: `median ${round(percentile(ms, 50))}, max ${round(percentile(ms, 100))}`,
  };
}

export const authAttacks: Record<string, Attack> = {
  'jwks-stall': {
    summary: '[--logins 50] [--wait-s 20]  the JWKS sends its headers and stalls the body',
    setup: () => jwksSetup('stall'),
    async run(server, options) {
      const count = Number(options.logins ?? 50);
      const waitMs = Number(options['wait-s'] ?? 20) * 1_000;
      const [result, ready] = await Promise.all([
        logins(server, count, waitMs),
        readiness(server.port, waitMs),
      ]);
      return { logins: count, waitedMs: waitMs, ...result, ready, fetches: current().jwks.fetches };
    },
  },

  'jwks-flood': {
    summary:
      '[--kind errors|kids] [--logins 100]  logins while the JWKS answers 500, or with made-up kids',
    async setup(options) {
      return jwksSetup(options.kind === 'kids' ? 'ok' : 'error');
    },
    async run(server, options) {
      const count = Number(options.logins ?? 100);
      const jwks = current().jwks;
      if (options.kind === 'kids') {
        const first = await login(server.port, await token('alice'), 10_000);
        const before = jwks.fetches;
        const result = await logins(server, count, 10_000, (i) => `made-up-${i}`);
        const after = await login(server.port, await token('bob'), 10_000);
        return {
          kind: 'kids',
          firstLogin: first.outcome,
          logins: count,
          ...result,
          fetchesForMadeUpKids: jwks.fetches - before,
          validLoginAfter: after.outcome,
          fetches: jwks.fetches,
        };
      }
      const result = await logins(server, count, 10_000);
      const sequential: string[] = [];
      for (let i = 0; i < 20; i++) {
        sequential.push((await login(server.port, await token(`late${i}`), 10_000)).outcome);
      }
      return {
        kind: 'errors',
        logins: count,
        ...result,
        thenOneByOne: tally(sequential),
        fetches: jwks.fetches,
        ready: await readiness(server.port),
      };
    },
  },

  'jwks-huge': {
    summary: '[--mb 123]  one login while the JWKS is a key set padded to MB megabytes',
    async setup(options) {
      return jwksSetup('huge', Number(options.mb ?? 123) * 1024 * 1024);
    },
    async run(server) {
      const pid = server.child.pid;
      const before = rssKb(pid) ?? 0;
      const first = await login(server.port, await token('alice'), 60_000);
      let peak = Math.max(before, ...server.rssKb);
      await delay(5_000);
      peak = Math.max(peak, ...server.rssKb);
      const after = rssKb(pid) ?? 0;
      const jwks = current().jwks;
      return {
        login: first.outcome,
        loginMs: round(first.ms),
        bodyBytes: jwks.hugeBytes,
        bodyBytesSent: jwks.hugeWritten,
        rssMb: `${round(before / 1024)} -> peak ${round(peak / 1024)} -> 5 s later ${round(after / 1024)}`,
      };
    },
  },

  'silent-slots': {
    summary:
      '[--sockets 1000] [--seconds 30]  three addresses keep reopening silent sockets; a user logs in each second',
    async setup() {
      return Promise.resolve({
        env: { AUTH_MODE: 'jwt', JWT_SECRET: SECRET, MAX_CONNECTIONS: '2000', LOG_LEVEL: 'warn' },
      });
    },
    async run(server, options) {
      const perAddress = Number(options.sockets ?? 1_000);
      const seconds = Number(options.seconds ?? 30);
      const secret = new TextEncoder().encode(SECRET);
      let open = 0;
      let peakOpen = 0;
      let refused = 0;
      let stopped = false;
      const sockets = new Set<WebSocket>();
      // Each attacker slot opens a socket without a token, sends nothing, and reopens it as soon
      // as the server closes or refuses it.
      const slot = async (localAddress: string): Promise<void> => {
        while (!stopped) {
          const socket = new WebSocket(`ws://127.0.0.1:${server.port}/`, { localAddress });
          sockets.add(socket);
          socket.on('error', () => undefined);
          socket.once('open', () => {
            open += 1;
            peakOpen = Math.max(peakOpen, open);
            socket.once('close', () => (open -= 1));
          });
          let wasRefused = false;
          socket.once('unexpected-response', () => {
            refused += 1;
            wasRefused = true;
            socket.terminate();
          });
          await new Promise((resolve) => socket.once('close', resolve));
          sockets.delete(socket);
          // Reopened at once after a close, after a second when refused.
          await delay(wasRefused ? 1_000 : 50);
        }
      };
      const attackers = SILENT_ADDRESSES.flatMap((address) =>
        Array.from({ length: perAddress }, () => slot(address)),
      );
      await delay(3_000);
      const users: string[] = [];
      const userMs: number[] = [];
      const deadline = performance.now() + (seconds - 3) * 1_000;
      for (let i = 0; performance.now() < deadline; i++) {
        const bearer = await token(`user${i}`, 'k', secret);
        const result = await login(server.port, bearer, 5_000);
        users.push(result.outcome);
        if (result.outcome === 'ok') userMs.push(result.ms);
        await delay(1_000);
      }
      stopped = true;
      for (const socket of sockets) socket.terminate();
      await Promise.all(attackers);
      return {
        silentSocketsPerAddress: perAddress,
        addresses: SILENT_ADDRESSES.length,
        silentOpenPeak: peakOpen,
        silentRefused: refused,
        userLogins: tally(users),
        userLoginMs: `median ${round(percentile(userMs, 50))}, max ${round(percentile(userMs, 100))}`,
      };
    },
  },
};
