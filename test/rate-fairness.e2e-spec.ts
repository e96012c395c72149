import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { chatFrame, errorFrame } from './support/expected-frames';
import { RunningApp, startApp } from './support/test-app';
import { Frame, TestClient } from './support/test-client';

/*
 * A stalled server must not punish compliant clients (issue "Hold under attacks that stay inside
 * every limit", item 3): frames a client sent at a compliant pace while the server's event loop
 * was stalled are read in one bunch when it ends, and must not be refused as a burst; and a
 * rate_limited frame counts toward ABUSE_ERRORS_MAX only when the client's rate is really over
 * the limit.
 */

const RATE_LIMIT_PER_SECOND = 10;
const RATE_LIMIT_BURST = 5;

/** What the pacing client reports when it is done. */
interface PacerReport {
  sent: number;
  echoes: number;
  rateLimited: number;
  otherErrors: string[];
  closed?: number;
}

/*
 * The compliant client runs in a worker thread, with an event loop of its own: the test stalls
 * the server's (this thread's) loop, and a client on it could not send meanwhile. It joins
 * through the URL, sends `count` chat messages every `intervalMs` by its own clock, the last one
 * `done`, and reports once `done` came back.
 */
const PACER = `
const { parentPort, workerData } = require('node:worker_threads');
const WebSocket = require(workerData.wsPath);
const { url, count, intervalMs } = workerData;
const report = { sent: 0, echoes: 0, rateLimited: 0, otherErrors: [] };
const ws = new WebSocket(url);
const send = (content) => {
  ws.send(JSON.stringify({ type: 'chat_message', userId: 'pacer', content }));
  report.sent += 1;
};
function pace() {
  const startedAt = Date.now();
  const tick = () => {
    send(report.sent === count - 1 ? 'done' : 'm' + report.sent);
    if (report.sent < count) setTimeout(tick, startedAt + report.sent * intervalMs - Date.now());
  };
  tick();
}
ws.on('message', (data) => {
  const frame = JSON.parse(data.toString());
  if (frame.type === 'joined') {
    parentPort.postMessage({ started: true });
    pace();
  } else if (frame.type === 'error') {
    if (frame.code === 'rate_limited') report.rateLimited += 1;
    else report.otherErrors.push(frame.code);
  } else if (frame.type === 'chat_message') {
    report.echoes += 1;
    if (frame.content === 'done') {
      parentPort.postMessage({ report });
      ws.close();
    }
  }
});
ws.on('close', (code) => parentPort.postMessage({ report: { ...report, closed: code } }));
`;

/** Keeps this thread (and so the server) from running for `ms`. */
function stallEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Busy on purpose: nothing else of this thread runs meanwhile, socket reads included.
  }
}

describe('rate limit fairness', () => {
  let server: RunningApp | undefined;
  const clients: TestClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await server?.close();
    server = undefined;
  });

  it('never refuses a client that keeps under RATE_LIMIT_PER_SECOND by its own clock across a server stall', async () => {
    server = await startApp({ RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST, ABUSE_ERRORS_MAX: 1 });
    // 8 frames/s for 4 s under a limit of 10/s; the 1.5 s stall holds back 12, over the burst.
    const count = 32;
    const worker = new Worker(PACER, {
      eval: true,
      workerData: {
        wsPath: require.resolve('ws'),
        url: `${server.wsUrl}/?userId=pacer`,
        count,
        intervalMs: 125,
      },
    });
    try {
      const report = new Promise<PacerReport>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (message: { started?: true; report?: PacerReport }) => {
          if (message.started) void delay(800).then(() => stallEventLoop(1_500));
          if (message.report) resolve(message.report);
        });
      });
      const timeout = delay(15_000, undefined, { ref: false }).then((): PacerReport => {
        throw new Error('the pacing client did not finish in time');
      });
      expect(await Promise.race([report, timeout])).toEqual({
        sent: count,
        echoes: count,
        rateLimited: 0,
        otherErrors: [],
      });
    } finally {
      await worker.terminate();
    }
  });

  it('answers a bunch over the burst with rate_limited without counting it toward ABUSE_ERRORS_MAX', async () => {
    server = await startApp({
      RATE_LIMIT_PER_SECOND,
      RATE_LIMIT_BURST,
      ABUSE_ERRORS_MAX: 2,
      ABUSE_WINDOW_MS: 5_000,
    });
    const alice = await TestClient.connect(`${server.wsUrl}/?userId=alice`);
    clients.push(alice);
    await alice.next('joined');
    // 12 at once: over the burst of 5, within the 5 + 10 × 5 the window allows on average.
    for (let i = 0; i < 12; i++)
      alice.send({ type: 'chat_message', userId: 'alice', content: `b${i}` });
    const replies: Frame[] = [];
    for (let i = 0; i < 12; i++) replies.push(await alice.next());
    expect(replies.slice(RATE_LIMIT_BURST)).toEqual(
      Array.from({ length: 12 - RATE_LIMIT_BURST }, () => errorFrame('rate_limited')),
    );
    // Still open, and served once the bucket refills.
    for (let attempt = 0; ; attempt++) {
      const reply = await alice.request({
        type: 'chat_message',
        userId: 'alice',
        content: 'after',
      });
      if (reply.type === 'chat_message') {
        expect(reply).toEqual(chatFrame('alice', 'alice', 'after'));
        break;
      }
      expect(attempt).toBeLessThan(20);
      await delay(50);
    }
    expect(alice.socket.readyState).toBe(WebSocket.OPEN);
  });
});
