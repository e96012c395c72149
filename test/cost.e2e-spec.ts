import { PROTOCOL_TEST_LIMITS } from './support/test-app';
import type { Frame, TestClient } from './support/test-client';
import { useApp } from './support/use-app';

/**
 * What a request costs: `history` by the bytes it returns and cut at HISTORY_MAX_ANSWER_BYTES,
 * the room operations over RPC as much as their frames, and a follow storm's joins announced in
 * bounded frames to each member.
 */

const BIG = 'x'.repeat(9_000);
let calls = 0;

function rpc(client: TestClient, method: string, params: object): Promise<Frame> {
  const correlation_id = `c-${++calls}`;
  return client.request(
    { type: 'rpc', method, params, correlation_id },
    (frame) => frame.correlation_id === correlation_id,
  );
}

/** Sends `count` chat messages of `content` and waits for the echo of the last. */
async function say(client: TestClient, userId: string, count: number, content: string) {
  for (let i = 0; i < count; i++) {
    client.send({ type: 'chat_message', userId, content: `${i}:${content}` });
  }
  await client.next((f) => f.type === 'chat_message' && f.content === `${count - 1}:${content}`);
}

/** Asks `ask()` up to `max` times, one after the other; how many were answered before a refusal. */
async function answeredBeforeRefusal(ask: () => Promise<Frame>, max: number): Promise<number> {
  for (let answered = 0; answered < max; answered++) {
    const frame = await ask();
    if (frame.type === 'error') {
      expect(frame.code ?? (frame.error as Frame | undefined)?.code).toBe('rate_limited');
      return answered;
    }
  }
  return max;
}

describe('history costs what it returns', () => {
  const { member, start } = useApp({}, { per: 'test' });

  it('refuses a reader of 9 KB frames after a few answers, and answers ten of small ones', async () => {
    // A burst of 40 tokens, refilled at 1 a second: what a test takes to run barely refills it.
    await start({ RATE_LIMIT_BURST: 40, RATE_LIMIT_PER_SECOND: 1 });
    // 60 frames of a room (two senders: a join and 30 messages each fit in one burst).
    for (const [room, content] of [
      ['big', BIG],
      ['small', 'hi'],
    ]) {
      for (const sender of ['s1', 's2']) {
        await say(await member(`${room}-${sender}`, room), `${room}-${sender}`, 30, content);
      }
    }
    const history = (client: TestClient, room: string) => () =>
      client.request({ type: 'history', roomId: room, limit: 60 }, (f) =>
        ['history', 'error'].includes(f.type),
      );
    const rpcHistory = (client: TestClient, room: string) => () =>
      rpc(client, 'history', { room, limit: 60 });

    // 60 × 9 KB is 34 tokens of 16 KiB: the second answer takes the bucket below zero.
    const bigFrames = await member('reader-1', 'elsewhere');
    expect(await answeredBeforeRefusal(history(bigFrames, 'big'), 10)).toBe(2);
    const bigRpc = await member('reader-2', 'elsewhere');
    expect(await answeredBeforeRefusal(rpcHistory(bigRpc, 'big'), 10)).toBe(2);
    // The same 60 frames, small: one token each.
    const smallFrames = await member('reader-3', 'elsewhere');
    expect(await answeredBeforeRefusal(history(smallFrames, 'small'), 10)).toBe(10);
    const smallRpc = await member('reader-4', 'elsewhere');
    expect(await answeredBeforeRefusal(rpcHistory(smallRpc, 'small'), 10)).toBe(10);

    // Sent at once, five requests are admitted at arrival (a token each); the bucket's debt after
    // the first answer refuses the rest before they are read.
    const eager = await member('reader-5', 'elsewhere');
    const isAnswer = (f: Frame) => f.type === 'history' || f.type === 'error';
    for (let i = 0; i < 5; i++) eager.send({ type: 'history', roomId: 'big', limit: 60 });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await eager.next(isAnswer));
    expect(answers.map((a) => a.code ?? a.type)).toEqual([
      'history',
      'rate_limited',
      'rate_limited',
      'rate_limited',
      'rate_limited',
    ]);
  });

  it('cuts an answer above HISTORY_MAX_ANSWER_BYTES, newest kept, truncated:true; paging on with before gets the rest', async () => {
    await start({ ...PROTOCOL_TEST_LIMITS, HISTORY_MAX_ANSWER_BYTES: 50_000 });
    const writer = await member('writer', 'r');
    await say(writer, 'writer', 20, BIG);
    const reader = await member('reader', 'elsewhere');

    const contents: string[] = [];
    let before: number | undefined;
    for (let page = 0; page < 10; page++) {
      const answer = await reader.request(
        { type: 'history', roomId: 'r', limit: 20, ...(before !== undefined && { before }) },
        'history',
      );
      const messages = (answer.messages as Frame[]).filter((m) => m.type === 'chat_message');
      const bytes = (answer.messages as Frame[]).reduce((n, m) => n + JSON.stringify(m).length, 0);
      expect(bytes).toBeLessThanOrEqual(50_000);
      contents.unshift(...messages.map((m) => String(m.content).split(':')[0]));
      if (answer.truncated === undefined) break;
      expect(answer.truncated).toBe(true);
      before = (answer.messages as Frame[])[0].offset as number;
    }
    expect(contents).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));

    // The RPC method says it the same way.
    const first = await rpc(reader, 'history', { room: 'r', limit: 20 });
    expect(first.result).toMatchObject({ truncated: true });
    expect((first.result as { messages: Frame[] }).messages).toHaveLength(5);
  });
});

describe('a replay costs what history costs', () => {
  const { connect, member, start } = useApp({}, { per: 'test' });

  it('charges a rejoin with since by the bytes replayed: the frames that follow are refused until the bucket refills', async () => {
    await start({ RATE_LIMIT_BURST: 40, RATE_LIMIT_PER_SECOND: 1 });
    const reader = await connect();
    const joined = await reader.request(
      { type: 'join', userId: 'reader', roomId: 'big' },
      'joined',
    );
    const since = { offset: joined.offset, epoch: joined.epoch };
    // 60 frames of 9 KB published after the reader's position: 34 tokens of 16 KiB to replay.
    for (const sender of ['s1', 's2']) await say(await member(sender, 'big'), sender, 30, BIG);
    await reader.request({ type: 'switch_room', userId: 'reader', roomId: 'elsewhere' }, 'joined');
    const live = reader.unread('chat_message').length;

    const back = await reader.request(
      { type: 'switch_room', userId: 'reader', roomId: 'big', since },
      'joined',
    );
    expect(back).toMatchObject({ recovered: true });
    expect(reader.unread('chat_message').length - live).toBe(60);
    // 5 (the first switch) + 5 + 34 is past the burst of 40: the bucket is in debt.
    const refused = await reader.request(
      { type: 'chat_message', userId: 'reader', content: 'after' },
      (f) => f.type === 'error' || (f.type === 'chat_message' && f.content === 'after'),
    );
    expect(refused).toMatchObject({ type: 'error', code: 'rate_limited' });
  });
});

describe('the room operations over RPC cost what their frames cost', () => {
  const { member, start } = useApp({}, { per: 'test' });

  it.each([
    ['presence', 'PRESENCE_COST', (i: number) => ({ room: `p${i % 2}` })],
    ['join_room', 'SWITCH_COST', (i: number) => ({ room: `j${i}` })],
    ['leave_room', 'SWITCH_COST', (i: number) => ({ room: `l${i}` })],
  ])('%s takes %s tokens', async (method, _cost, params) => {
    await start({
      RATE_LIMIT_BURST: 20,
      RATE_LIMIT_PER_SECOND: 1,
      PRESENCE_COST: 4,
      SWITCH_COST: 4,
    });
    const client = await member(`caller-${method}`, 'home');
    // The join took 4 of the 20 tokens: 16 are left, four calls of 4.
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => rpc(client, method, params(i))),
    );
    expect(answers.map((a) => a.type)).toEqual([
      'response',
      'response',
      'response',
      'response',
      'error',
      'error',
    ]);
    expect(answers[4].error).toMatchObject({ code: 'rate_limited' });
  });
});

describe('a follow storm', () => {
  const { connect, start } = useApp({}, { per: 'test' });

  it('tells a member of 32 rooms about 59 followers each in bounded frames: JOIN_LEAVE_BURST each, then diffs', async () => {
    const ROOMS = 32;
    const FOLLOWERS = 59;
    const BURST = 5;
    await start({ ...PROTOCOL_TEST_LIMITS, JOIN_LEAVE_BURST: BURST });
    const rooms = Array.from({ length: ROOMS }, (_, i) => `storm:${i}`);
    const watcher = await connect();
    for (const room of rooms) await rpc(watcher, 'join_room', { room });
    const followers = await Promise.all(Array.from({ length: FOLLOWERS }, () => connect()));
    const storm = followers.map(async (client) => {
      const answers = await Promise.all(rooms.map((room) => rpc(client, 'join_room', { room })));
      for (const answer of answers) expect(answer.type).toBe('response');
    });
    await Promise.all(storm);

    // The watcher learns every follower of every room, from user_joined and presence_diff alike.
    const known = new Map(rooms.map((room) => [room, new Set<string>()]));
    const counts = { user_joined: new Map<string, number>(), frames: 0 };
    const complete = () => [...known.values()].every((users) => users.size === FOLLOWERS);
    while (!complete()) {
      const frame = await watcher.next(
        (f) => f.type === 'user_joined' || f.type === 'presence_diff',
      );
      const room = String(frame.roomId);
      counts.frames += 1;
      if (frame.type === 'user_joined') {
        known.get(room)?.add(String(frame.userId));
        counts.user_joined.set(room, (counts.user_joined.get(room) ?? 0) + 1);
      } else {
        for (const user of frame.joined as string[]) known.get(room)?.add(user);
      }
    }
    // At most one burst of single frames per room (two, if the burst straddles two intervals)...
    for (const count of counts.user_joined.values()) expect(count).toBeLessThanOrEqual(2 * BURST);
    // ...and far fewer frames than joins: one per join would be 59 × 32.
    expect(counts.frames).toBeLessThanOrEqual((FOLLOWERS * ROOMS) / 2);
  });
});
