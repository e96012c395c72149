import {
  BufferingSocket,
  RecordingSocket,
  recordedSession,
} from '../../test/support/recording-socket';
import { frames } from '../protocol/chat.protocol';
import { CloseCode } from '../protocol/close-codes';
import { ErrorCode } from '../protocol/error-code';
import { RpcError, RpcErrorCode, rpcFrames } from '../protocol/rpc.protocol';
import { costKey, type Session, type SessionContext } from './session';

/** A session whose `work` handler records its frames' `n` and waits while the gate is shut. */
function sessionWithHandler(context: Partial<SessionContext> = {}): {
  session: Session;
  socket: RecordingSocket;
  handled: number[];
  open(): void;
} {
  const { session, socket } = recordedSession(undefined, context);
  const handled: number[] = [];
  let open = (): void => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  session.bind([
    {
      message: 'work',
      isAckHandledManually: false,
      callback: async (data: { n: number }) => {
        await gate;
        handled.push(data.n);
      },
    },
  ]);
  return { session, socket, handled, open };
}

/** Resolves once everything queued on `session` so far has run. */
const settled = (session: Session): Promise<void> =>
  new Promise((resolve) => session.enqueue(resolve));

const work = (n: number): string => JSON.stringify({ type: 'work', n });

describe('Session', () => {
  it('handles a client’s frames one after another, in order, with its own ops between them', async () => {
    const { session, socket, handled, open } = sessionWithHandler();
    socket.receive(work(1));
    session.enqueue(() => handled.push(-1));
    socket.receive(work(2));
    open();
    await settled(session);
    expect(handled).toEqual([1, -1, 2]);
  });

  it('still handles what a client sent before it closed', async () => {
    const { session, socket, handled, open } = sessionWithHandler();
    for (let n = 0; n < 5; n++) socket.receive(work(n));
    socket.close();
    open();
    await settled(session);
    expect(handled).toEqual([0, 1, 2, 3, 4]);
  });

  it('drops the queued frames of a session the server evicts, but runs its own ops', async () => {
    const evicted: Session[] = [];
    const owner = { evicted: (s: Session) => evicted.push(s), closed: () => undefined };
    const { session, socket, handled, open } = sessionWithHandler({ owner });
    for (let n = 0; n < 3; n++) socket.receive(work(n));
    session.evict(CloseCode.PolicyViolation, 'test');
    session.enqueue(() => handled.push(-1));
    socket.receive(work(9));
    open();
    await settled(session);
    // The frame in flight at the eviction finishes; the ones waiting behind it never start.
    expect(handled).toEqual([0, -1]);
    expect(evicted).toEqual([session]);
  });

  it('pauses its socket past MAX_INBOUND_QUEUE frames and resumes it when they are handled', async () => {
    const { session, socket, handled, open } = sessionWithHandler();
    const limit = 64; // recordedSession's maxInboundQueue
    for (let n = 0; n < limit; n++) socket.receive(work(n));
    expect(socket.paused).toBe(false);
    socket.receive(work(limit));
    expect(socket.paused).toBe(true);
    expect(session.inbound).toEqual({ queued: limit + 1, peak: limit + 1, paused: true });
    open();
    await settled(session);
    expect(socket.paused).toBe(false);
    expect(handled).toHaveLength(limit + 1);
  });

  it('answers a bad frame itself, with no handler involved', async () => {
    const { session, socket, open } = sessionWithHandler();
    socket.receive('{nope');
    socket.receive(JSON.stringify({ type: 'unknown' }));
    open();
    await settled(session);
    expect(socket.sent.map((frame) => frame.code)).toEqual(['invalid_json', 'unknown_type']);
  });

  describe('rate limit', () => {
    /** Limits of 1 token/s and a burst of 5, `work` costing `cost`, one error allowed. */
    const limits = (cost: number) => ({
      maxBufferedBytes: 1 << 20,
      abuseErrorsMax: 1,
      abuseWindowMs: 5000,
      maxInboundQueue: 64,
      ratePerSecond: 1,
      rateBurst: 5,
      costs: new Map([['work', cost]]),
    });

    it('takes the cost of a message type from the bucket', async () => {
      const { session, socket, handled, open } = sessionWithHandler({ limits: limits(2) });
      for (let n = 0; n < 3; n++) socket.receive(work(n));
      open();
      await settled(session);
      expect(handled).toEqual([0, 1]);
      expect(socket.sent.map((frame) => frame.code)).toEqual(['rate_limited']);
    });

    it('answers refusals within the abuse window’s allowance without counting them as errors', async () => {
      // Window allowance: 5 + 1 × 5 s = 10 tokens; 8 frames of cost 1 are within it.
      const evicted: Session[] = [];
      const owner = { evicted: (s: Session) => evicted.push(s), closed: () => undefined };
      const { session, socket, open } = sessionWithHandler({ limits: limits(1), owner });
      for (let n = 0; n < 8; n++) socket.receive(work(n));
      open();
      await settled(session);
      expect(socket.sent.map((frame) => frame.code)).toEqual([
        'rate_limited',
        'rate_limited',
        'rate_limited',
      ]);
      expect(evicted).toEqual([]);
      // Past the allowance the refusals count: the second counted one evicts.
      for (let n = 0; n < 4; n++) socket.receive(work(n));
      await settled(session);
      expect(evicted).toEqual([session]);
    });

    it('takes the cost of an rpc frame by its method, one for a method without a cost', async () => {
      const costs = new Map([[costKey('rpc', 'heavy'), 2]]);
      const { session, socket, open } = sessionWithHandler({ limits: { ...limits(1), costs } });
      const called: string[] = [];
      session.bind([
        {
          message: 'rpc',
          isAckHandledManually: false,
          callback: (data: { method: string }) => Promise.resolve(void called.push(data.method)),
        },
      ]);
      const call = (method: string) => JSON.stringify({ type: 'rpc', method });
      // 5 tokens: heavy (2), heavy (2), light (1), then nothing is left.
      for (const method of ['heavy', 'heavy', 'light', 'light']) socket.receive(call(method));
      open();
      await settled(session);
      expect(called).toEqual(['heavy', 'heavy', 'light']);
    });

    it('charges work once done below zero; then refuses frames and is not solvent until refilled', async () => {
      const { session, socket, open } = sessionWithHandler({ limits: limits(1) });
      expect(session.solvent).toBe(true);
      session.charge(7);
      expect(session.solvent).toBe(false);
      socket.receive(work(0));
      open();
      await settled(session);
      expect(socket.sent.map((frame) => frame.code)).toEqual(['rate_limited']);
    });

    it('answers an rpc frame over the limit in the RPC shape, with its correlation id and retry_after', async () => {
      const { session, socket, open } = sessionWithHandler({ limits: limits(1) });
      session.bind([
        { message: 'rpc', isAckHandledManually: false, callback: () => Promise.resolve() },
      ]);
      for (let n = 0; n < 5; n++) socket.receive(work(n));
      socket.receive(JSON.stringify({ type: 'rpc', method: 'm', correlation_id: 'late' }));
      socket.receive(JSON.stringify({ type: 'rpc', method: 'm' }));
      open();
      await settled(session);
      expect(socket.sent).toEqual([
        {
          type: 'error',
          correlation_id: 'late',
          code: 'rate_limited',
          message: 'rate limit exceeded',
          error: {
            code: 'rate_limited',
            message: 'rate limit exceeded',
            retryable: true,
            retry_after: 1,
          },
        },
        // Without a correlation id there is no call to answer: the error frame, as for any frame.
        { type: 'error', code: 'rate_limited', message: 'rate limit exceeded' },
      ]);
    });
  });

  it('does not count server faults toward ABUSE_ERRORS_MAX, only errors the client caused', () => {
    const evicted: Session[] = [];
    const owner = { evicted: (s: Session) => evicted.push(s), closed: () => undefined };
    const { session } = recordedSession(undefined, { owner });
    const max = 20; // recordedSession's abuseErrorsMax
    // A Redis outage: every message of a client well under the rate limit is refused `unavailable`.
    for (let n = 0; n <= max; n++) {
      session.sendError(frames.error(ErrorCode.Unavailable, 'retry', true));
      session.sendError(frames.error(ErrorCode.Internal, 'internal server error'));
      session.sendError(rpcFrames.error(`c-${n}`, new RpcError(RpcErrorCode.Unavailable, 'retry')));
    }
    expect(evicted).toEqual([]);
    for (let n = 0; n <= max; n++) session.sendError(frames.error(ErrorCode.InvalidJson, 'bad'));
    expect(evicted).toEqual([session]);
  });

  describe('rpc frames', () => {
    it('answers an rpc frame the parser refused with its correlation id, naming the field', async () => {
      const { session, socket } = recordedSession();
      session.bind([
        { message: 'rpc', isAckHandledManually: false, callback: () => Promise.resolve() },
      ]);
      socket.receive('{"type":"rpc","correlation_id":"c1","method":"a\\ud800"}');
      await settled(session);
      expect(socket.sent).toEqual([
        {
          type: 'error',
          correlation_id: 'c1',
          code: 'invalid_params',
          message: expect.stringContaining('method must be well-formed'),
          error: {
            code: 'invalid_params',
            message: expect.stringContaining('method must be well-formed'),
            details: {
              validation_errors: [{ field: 'method', error: expect.stringContaining('method') }],
            },
            retryable: false,
          },
        },
      ]);
    });

    it('refuses an rpc frame for another user than the token’s as forbidden, with its correlation id', async () => {
      const { session, socket } = recordedSession();
      session.principal = { userId: 'alice', claims: {} };
      session.bind([
        { message: 'rpc', isAckHandledManually: false, callback: () => Promise.resolve() },
      ]);
      socket.receive(JSON.stringify({ type: 'rpc', correlation_id: 'c2', userId: 'mallory' }));
      await settled(session);
      expect(socket.sent).toMatchObject([
        { type: 'error', correlation_id: 'c2', code: 'forbidden', error: { code: 'forbidden' } },
      ]);
    });
  });

  describe('paced sends (a replay)', () => {
    const frame = (n: number): string =>
      JSON.stringify({ type: 'chat_message', n, pad: 'x'.repeat(400) });
    const paced = (drainTimeoutMs = 60_000) => {
      const evicted: Session[] = [];
      const limits = {
        maxBufferedBytes: 1024,
        abuseErrorsMax: 20,
        abuseWindowMs: 5000,
        maxInboundQueue: 64,
        ratePerSecond: 1000,
        rateBurst: 1000,
        costs: new Map<string, number>(),
        drainTimeoutMs,
      };
      const { session, socket } = recordedSession(
        'alice',
        { limits, owner: { evicted: (s: Session) => evicted.push(s), closed: () => undefined } },
        new BufferingSocket(),
      );
      return { session, socket, evicted };
    };

    it('writes while the socket holds at most half the bound, then waits for it to drain', async () => {
      const { session, socket, evicted } = paced();
      const results: boolean[] = [];
      // One after another, as a replay sends.
      const sent = (async () => {
        for (const n of [1, 2, 3, 4]) results.push(await session.sendPaced(frame(n)));
      })();
      await new Promise((resolve) => setImmediate(resolve));
      // Two frames of ~430 bytes passed half of 1 KiB: the rest wait, nothing is evicted.
      expect(socket.sent.map((f) => f.n)).toEqual([1, 2]);
      socket.flush();
      await sent;
      expect(socket.sent.map((f) => f.n)).toEqual([1, 2, 3, 4]);
      expect(results).toEqual([true, true, true, true]);
      expect(evicted).toEqual([]);
    });

    it('writes a frame larger than the bound whole, without evicting', async () => {
      const { session, socket, evicted } = paced();
      expect(await session.sendPaced(JSON.stringify({ big: 'y'.repeat(5_000) }))).toBe(true);
      expect(socket.bufferedAmount).toBeGreaterThan(1024);
      expect(evicted).toEqual([]);
    });

    it('sends one frame larger than the bound (a full history page) to a client with no backlog', () => {
      const { session, socket, evicted } = paced();
      session.send(JSON.stringify({ big: 'y'.repeat(5_000) }));
      expect(socket.bufferedAmount).toBeGreaterThan(1024);
      expect(evicted).toEqual([]);
      // Its backlog is now over half the bound: the next frame evicts.
      session.send(frame(1));
      expect(evicted).toEqual([session]);
    });

    it('evicts with 1013 a client that takes nothing for drainTimeoutMs', async () => {
      const { session, socket, evicted } = paced(50);
      await session.sendPaced(frame(1));
      await session.sendPaced(frame(2));
      expect(await session.sendPaced(frame(3))).toBe(false);
      expect(evicted).toEqual([session]);
      expect(socket.sent.map((f) => f.n)).toEqual([1, 2]);
    });
  });
});
