import { Socket, connect } from 'node:net';
import { once } from 'node:events';
import { useBridgeProcesses } from './support/bridge-processes';
import { eventually } from './support/eventually';
import { describeWithRedis } from './support/redis-server';
import { spawnServer, type ServerProcess } from './support/server-process';

/*
 * History answers to backends are bounded in bytes: the calls of one HTTP request (a batch) share
 * HISTORY_MAX_ANSWER_BYTES, and the answers held at once for all requests share
 * HISTORY_ANSWERS_MAX_BYTES. A server on a 128 MiB heap outlives concurrent batches of history
 * calls that each asked for a hundred 1 MiB answers.
 */

const API_KEY = 'test-api-key-0123456789';
const MIB = 1_048_576;
const FRAMES = 100;
const CONTENT = 100_000;
/** Larger than what the kernel takes of an unread answer, so that a part stays unsent. */
const ANSWER = 8 * MIB;
const ROOM = 'session:x';

interface Reply {
  success: boolean;
  result?: { messages: unknown[]; truncated?: boolean };
  error_code?: string;
  error?: { retryable?: boolean };
}

function post(port: number, body: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/api/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify(body),
  });
}

/**
 * Posts `body` on a raw socket that reads nothing back: the answer stays unsent (held) until
 * the socket is destroyed. Resolves once the first bytes of the answer have come.
 */
async function postUnread(port: number, body: unknown): Promise<Socket> {
  const text = JSON.stringify(body);
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    `POST /api/rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${API_KEY}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
  await once(socket, 'data');
  socket.pause();
  return socket;
}

/** Publishes FRAMES session messages of CONTENT characters into ROOM, 10 per request. */
async function fillRoom(port: number): Promise<void> {
  const content = 'x'.repeat(CONTENT);
  for (let first = 0; first < FRAMES; first += 10) {
    const calls = Array.from({ length: 10 }, (_, i) => ({
      method: 'session.message',
      params: {
        session_id: 'x',
        message_id: `m${first + i}`,
        role: 'assistant',
        content,
        is_streaming: false,
        is_final: true,
      },
    }));
    const replies = (await (await post(port, calls)).json()) as Reply[];
    expect(replies.every((reply) => reply.success)).toBe(true);
  }
}

const historyCall = { method: 'history', params: { room: ROOM, limit: FRAMES } };
const historyBatch = Array.from({ length: 100 }, () => historyCall);

/** Bytes of an answer's messages as they went out (each frame serialized). */
const bytesOf = (reply: Reply): number =>
  (reply.result?.messages ?? []).reduce<number>(
    (sum, message) => sum + Buffer.byteLength(JSON.stringify(message)),
    0,
  );

const isUnavailable = (reply: Reply): boolean =>
  !reply.success && reply.error_code === 'unavailable' && reply.error?.retryable === true;

describe('history answers to backends on a 128 MiB heap', () => {
  let server: ServerProcess;
  let port: number;

  beforeAll(async () => {
    server = spawnServer({
      NODE_OPTIONS: '--max-old-space-size=128',
      API_KEY,
      MAX_PAYLOAD_BYTES: String(2 * MIB),
      HISTORY_MAX_ANSWER_BYTES: String(ANSWER),
      HISTORY_SIZE: String(FRAMES),
      HISTORY_ANSWERS_MAX_BYTES: String(2 * ANSWER),
    });
    port = await server.port;
    await fillRoom(port);
  });

  afterAll(async () => {
    server?.child.kill('SIGKILL');
    await server?.exited;
  });

  it('gives one batch HISTORY_MAX_ANSWER_BYTES in all: the first answer cut, the rest unavailable', async () => {
    const response = await post(port, historyBatch);
    expect(response.status).toBe(200);
    const replies = (await response.json()) as Reply[];
    expect(replies).toHaveLength(100);
    expect(replies[0]).toMatchObject({ success: true, result: { truncated: true } });
    expect(replies[0].result?.messages.length).toBe(Math.floor(ANSWER / (CONTENT + 200)));
    expect(replies.slice(1).filter(isUnavailable)).toHaveLength(99);
    expect(replies.reduce((sum, reply) => sum + bytesOf(reply), 0)).toBeLessThanOrEqual(ANSWER);
  });

  it('answers a call 503 unavailable while the pool is held by unsent answers, and again once they are gone', async () => {
    const held: Socket[] = [];
    try {
      // Each holds an answer of ANSWER bytes: the pool is full after two.
      for (let i = 0; i < 2; i++) held.push(await postUnread(port, historyCall));
      const refused = await post(port, historyCall);
      expect(refused.status).toBe(503);
      expect(isUnavailable((await refused.json()) as Reply)).toBe(true);
      const batch = (await (await post(port, historyBatch)).json()) as Reply[];
      expect(batch.filter(isUnavailable)).toHaveLength(100);
    } finally {
      held.forEach((socket) => socket.destroy());
    }
    const answered = await eventually(
      'a history call answered once the held answers are gone',
      async () => {
        const response = await post(port, historyCall);
        return response.status === 200 ? ((await response.json()) as Reply) : undefined;
      },
    );
    expect(answered?.result?.truncated).toBe(true);
  });

  it('stays up under 6 batches and 20 lone calls at once, answering each call or refusing it unavailable', async () => {
    const answer = async (body: unknown): Promise<{ status: number; body: unknown }> => {
      const response = await post(port, body);
      return { status: response.status, body: await response.json() };
    };
    const answers = await Promise.all([
      ...Array.from({ length: 6 }, () => answer(historyBatch)),
      ...Array.from({ length: 20 }, () => answer(historyCall)),
    ]);
    const batchReplies = answers.slice(0, 6).map(({ status, body }) => {
      expect(status).toBe(200);
      return body as Reply[];
    });
    const loneAnswers = answers
      .slice(6)
      .map(({ status, body }) => ({ status, reply: body as Reply }));
    for (const replies of batchReplies) {
      expect(replies.every((reply) => reply.success || isUnavailable(reply))).toBe(true);
      expect(replies.reduce((sum, reply) => sum + bytesOf(reply), 0)).toBeLessThanOrEqual(ANSWER);
    }
    for (const { status, reply } of loneAnswers) {
      expect(status === 200 ? reply.success : status === 503 && isUnavailable(reply)).toBe(true);
    }
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
  });
});

describeWithRedis('history answers to bridge requests on a 128 MiB heap', () => {
  const processes = useBridgeProcesses();

  it('answers 100 history requests at once, each or unavailable, and stays up', async () => {
    const stream = `answers-${process.pid}`;
    const server = spawnServer({
      NODE_OPTIONS: '--max-old-space-size=128',
      REDIS_URL: processes.redis.url,
      REDIS_KEY_PREFIX: `answers${process.pid}:`,
      RPC_REQUEST_STREAM: stream,
      RPC_DEAD_LETTER_STREAM: `${stream}:dlq`,
      API_KEY,
      MAX_PAYLOAD_BYTES: String(2 * MIB),
      HISTORY_ROOM_MAX_BYTES: String(32 * MIB),
      HISTORY_MAX_ANSWER_BYTES: String(ANSWER),
      HISTORY_ANSWERS_MAX_BYTES: String(2 * ANSWER),
    });
    processes.servers.push(server);
    const port = await server.port;
    await fillRoom(port);
    const client = processes.client(stream);
    const sent = await Promise.all(
      Array.from({ length: 100 }, () =>
        client.send({ method: 'history', params: historyCall.params }),
      ),
    );
    const replies = await Promise.all(sent.map((call) => client.reply(call, 20_000)));
    const answered = replies.filter((reply) => reply.success === true);
    const refused = replies.filter(
      (reply) =>
        reply.error_code === 'unavailable' &&
        (reply.error as { retryable?: boolean } | undefined)?.retryable === true,
    );
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.length + refused.length).toBe(100);
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
  });
});
