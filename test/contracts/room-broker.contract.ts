import type { Publication, PublicationData } from '../../src/rooms/publication';
import { eventually } from '../support/eventually';
import type { RoomBroker } from '../../src/rooms/room-broker';

/** One instance's broker as a case sees it. */
export interface RoomBrokerUnderTest {
  broker: RoomBroker;
  /** Lets the broker's idempotency window pass (a clock moved on, or a short window waited out). */
  passIdempotencyWindow(): Promise<void>;
}

const frame = (text: string): PublicationData => ({
  kind: 'frame',
  frame: JSON.stringify({ text }),
});

/** The history size the contract's brokers are created with. */
export const CONTRACT_HISTORY_SIZE = 5;

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The behaviour every RoomBroker must have, run against each implementation (in memory, Redis).
 * `create` returns a fresh broker keeping CONTRACT_HISTORY_SIZE publications per room (and
 * whatever its `dispose` needs). Delivery may be
 * asynchronous, so the cases wait (bounded) for publications, and prove that one did not arrive
 * by publishing a marker to the same room afterwards: a room's publications arrive in offset
 * order, so once the marker is in, anything published before it would be too.
 */
/** What an implementation's transport allows beside the contract. */
export interface RoomBrokerContractOptions {
  /**
   * Plain pub/sub on a Redis Cluster: the cluster bus relays a publication to the subscriber's
   * node after PUBLISH has answered, so one made just before a room is subscribed again may
   * still arrive (once, before anything published after it). Joins do not show it: the hub
   * sends a joiner only what comes after the position its join read.
   */
  lateRelays?: boolean;
}

export function describeRoomBrokerContract<T extends RoomBrokerUnderTest>(
  name: string,
  create: () => Promise<T>,
  dispose: (underTest: T) => Promise<void> = () => Promise.resolve(),
  options: RoomBrokerContractOptions = {},
): void {
  describe(`RoomBroker contract: ${name}`, () => {
    let underTest: T;
    let broker: RoomBroker;
    let received: Publication[];
    let subscriptions: string[];
    let markers = 0;

    beforeEach(async () => {
      underTest = await create();
      broker = underTest.broker;
      received = [];
      subscriptions = [];
      broker.onPublication((publication) => received.push(publication));
    });

    afterEach(async () => {
      for (const roomId of subscriptions.splice(0)) await broker.unsubscribe(roomId);
      await dispose(underTest);
    });

    async function subscribe(roomId: string): Promise<void> {
      await broker.subscribe(roomId);
      subscriptions.push(roomId);
    }

    async function unsubscribe(roomId: string): Promise<void> {
      subscriptions.splice(subscriptions.indexOf(roomId), 1);
      await broker.unsubscribe(roomId);
    }

    const inRoom = (roomId: string): Publication[] => received.filter((p) => p.roomId === roomId);
    const texts = (roomId: string): unknown[] =>
      inRoom(roomId).map((p) => (p.data.kind === 'frame' ? parsed(p.data.frame) : p.data));

    /** Publishes a marker to `roomId` and waits until it arrived; returns its text. */
    async function marker(roomId: string): Promise<{ text: string }> {
      const text = `marker ${++markers}`;
      await broker.publish(roomId, frame(text));
      await eventually(
        () => `${text} in ${roomId}; received ${JSON.stringify(received)}`,
        () => texts(roomId).some((t) => (t as { text?: string }).text === text),
      );
      return { text };
    }

    it('delivers a publication once, at the position publish resolved with', async () => {
      await subscribe('lobby');
      const position = await broker.publish('lobby', frame('hello'));
      const end = await marker('lobby');
      expect(texts('lobby')).toEqual([{ text: 'hello' }, end]);
      expect(inRoom('lobby')[0]).toEqual({
        roomId: 'lobby',
        offset: position.offset,
        epoch: position.epoch,
        data: frame('hello'),
      });
      expect(position.offset).toBe(1);
      expect(position.epoch).toMatch(/^[A-Za-z0-9_-]+$/);
    });

    it('numbers a room’s publications one by one in one epoch, in the order of the calls', async () => {
      await subscribe('lobby');
      const sent = Array.from({ length: 200 }, (_, i) => frame(`message ${i}`));
      // Called back to back without awaiting each: the order is that of the calls.
      const positions = await Promise.all(sent.map((data) => broker.publish('lobby', data)));
      await eventually(
        () => `200 publications, got ${inRoom('lobby').length}`,
        () => inRoom('lobby').length === 200,
      );
      expect(inRoom('lobby').map((p) => p.data)).toEqual(sent);
      expect(positions.map((p) => p.offset)).toEqual(sent.map((_, i) => i + 1));
      expect(new Set(positions.map((p) => p.epoch)).size).toBe(1);
      expect(inRoom('lobby').map((p) => p.offset)).toEqual(positions.map((p) => p.offset));
    });

    it('keeps rooms apart, each with its own offsets', async () => {
      await subscribe('red');
      await subscribe('blue');
      await broker.publish('red', frame('for red'));
      await broker.publish('red', frame('for red again'));
      const blue = await broker.publish('blue', frame('for blue'));
      await broker.publish('nobody-here', frame('for no one'));
      const redEnd = await marker('red');
      const blueEnd = await marker('blue');
      expect(texts('red')).toEqual([{ text: 'for red' }, { text: 'for red again' }, redEnd]);
      expect(texts('blue')).toEqual([{ text: 'for blue' }, blueEnd]);
      expect(blue.offset).toBe(1);
      expect(texts('nobody-here')).toEqual([]);
    });

    it('carries every kind of publication unchanged, whatever its text', async () => {
      await subscribe('lobby');
      const sent: PublicationData[] = [
        frame('two\nlines, "quotes", \\backslash\\, tab\t, ü, 你好, 🎉, 1:2:f'),
        { kind: 'frame', frame: '\n' },
        { kind: 'join', userId: 'a.b:c@d-e_f' },
        { kind: 'leave', userId: 'a.b:c@d-e_f' },
      ];
      for (const data of sent) await broker.publish('lobby', data);
      await marker('lobby');
      expect(
        inRoom('lobby')
          .slice(0, 4)
          .map((p) => p.data),
      ).toEqual(sent.map(stampedLike));
    });

    it('calls onOrdered once, before publish resolves, also for a duplicate', async () => {
      await subscribe('ordered');
      const calls: string[] = [];
      const publish = (idempotencyKey?: string): Promise<unknown> =>
        broker
          .publish(
            'ordered',
            { kind: 'frame', frame: '{}' },
            {
              idempotencyKey,
              onOrdered: () => calls.push('ordered'),
            },
          )
          .then(() => calls.push('resolved'));
      await publish();
      await publish('k');
      await publish('k');
      expect(calls).toEqual(['ordered', 'resolved', 'ordered', 'resolved', 'ordered', 'resolved']);
    });

    it('stamps a membership change with the time it was published, the same live and in history', async () => {
      await subscribe('stamps');
      const before = Date.now();
      await broker.publish('stamps', { kind: 'join', userId: 'alice', at: 1 });
      await broker.publish('stamps', { kind: 'leave', userId: 'alice' });
      await marker('stamps');
      const after = Date.now();
      const live = inRoom('stamps')
        .slice(0, 2)
        .map((p) => p.data);
      for (const data of live) {
        const at = data.kind === 'frame' ? undefined : data.at;
        // A second of leeway: with Redis the time is Redis' clock, not this process's.
        expect(at).toBeGreaterThanOrEqual(before - 1_000);
        expect(at).toBeLessThanOrEqual(after + 1_000);
      }
      const { publications } = await broker.history('stamps', { limit: 10 });
      expect(publications.slice(0, 2).map((p) => p.data)).toEqual(live);
    });

    it('handles room ids that look like patterns or separators like any other', async () => {
      const rooms = ['*', 'room:*', 'a?b', '[ab]', 'lobby:x', '__proto__', 'x}:ch'];
      for (const roomId of rooms) await subscribe(roomId);
      await subscribe('lobby');
      for (const roomId of rooms) await broker.publish(roomId, frame(`to ${roomId}`));
      for (const roomId of rooms) {
        const end = await marker(roomId);
        expect(texts(roomId)).toEqual([{ text: `to ${roomId}` }, end]);
      }
      const end = await marker('lobby');
      expect(texts('lobby')).toEqual([end]);
    });

    it('counts subscriptions: subscribed twice and released once, the room still arrives', async () => {
      await subscribe('lobby');
      await subscribe('lobby');
      await unsubscribe('lobby');
      await broker.publish('lobby', frame('still here'));
      const end = await marker('lobby');
      expect(texts('lobby')).toEqual([{ text: 'still here' }, end]);
    });

    it('stops delivering a room once its last subscription is released, and resumes after', async () => {
      await subscribe('lobby');
      await unsubscribe('lobby');
      await broker.publish('lobby', frame('while away'));
      await subscribe('lobby');
      const end = await marker('lobby');
      if (options.lateRelays) {
        expect([[end], [{ text: 'while away' }, end]]).toContainEqual(texts('lobby'));
      } else {
        expect(texts('lobby')).toEqual([end]);
      }
    });

    describe('idempotency keys', () => {
      it('publishes a key once: a duplicate publishes nothing and answers the first position and data', async () => {
        await subscribe('lobby');
        const first = await broker.publish('lobby', frame('once'), { idempotencyKey: 'k1' });
        const again = await broker.publish('lobby', frame('twice'), { idempotencyKey: 'k1' });
        const end = await marker('lobby');
        expect(first).toMatchObject({ offset: 1, duplicate: false });
        expect(again).toEqual({
          offset: first.offset,
          epoch: first.epoch,
          duplicate: true,
          original: frame('once'),
        });
        expect(texts('lobby')).toEqual([{ text: 'once' }, end]);
        const { publications } = await broker.history('lobby', { limit: 10 });
        expect(publications.map((p) => p.data)).toEqual([frame('once'), frame(end.text)]);
      });

      it('answers a duplicate without data once the history no longer holds the first', async () => {
        const first = await broker.publish('gone', frame('first'), { idempotencyKey: 'k' });
        for (let i = 0; i < CONTRACT_HISTORY_SIZE; i++) await broker.publish('gone', frame(`${i}`));
        const again = await broker.publish('gone', frame('again'), { idempotencyKey: 'k' });
        expect(again).toEqual({ offset: first.offset, epoch: first.epoch, duplicate: true });
      });

      it('keeps the keys of different rooms apart, and publishes without a key every time', async () => {
        await subscribe('red');
        await subscribe('blue');
        const red = await broker.publish('red', frame('red'), { idempotencyKey: 'same' });
        const blue = await broker.publish('blue', frame('blue'), { idempotencyKey: 'same' });
        await broker.publish('red', frame('plain'));
        await broker.publish('red', frame('plain'));
        const redEnd = await marker('red');
        const blueEnd = await marker('blue');
        expect([red.duplicate, blue.duplicate]).toEqual([false, false]);
        expect(texts('red')).toEqual([
          { text: 'red' },
          { text: 'plain' },
          { text: 'plain' },
          redEnd,
        ]);
        expect(texts('blue')).toEqual([{ text: 'blue' }, blueEnd]);
      });

      it('publishes a key again once the window has passed', async () => {
        await subscribe('lobby');
        const first = await broker.publish('lobby', frame('first'), { idempotencyKey: 'k' });
        await underTest.passIdempotencyWindow();
        const later = await broker.publish('lobby', frame('later'), { idempotencyKey: 'k' });
        const again = await broker.publish('lobby', frame('again'), { idempotencyKey: 'k' });
        const end = await marker('lobby');
        expect(later).toMatchObject({ offset: first.offset + 1, duplicate: false });
        expect(again).toMatchObject({ offset: later.offset, duplicate: true });
        expect(texts('lobby')).toEqual([{ text: 'first' }, { text: 'later' }, end]);
      });
    });

    it('tells a room’s position: offset 0 before any publication, then the newest', async () => {
      const empty = await broker.history('fresh', { limit: 0 });
      expect(empty.position.offset).toBe(0);
      const first = await broker.publish('fresh', frame('one'));
      const second = await broker.publish('fresh', frame('two'));
      const { position } = await broker.history('fresh', { limit: 0 });
      expect(position).toEqual({ offset: second.offset, epoch: second.epoch });
      expect(second).toEqual({ offset: first.offset + 1, epoch: first.epoch, duplicate: false });
    });

    describe('history', () => {
      const offsets = (publications: Publication[]): number[] => publications.map((p) => p.offset);

      async function publishMany(roomId: string, count: number) {
        const positions = [];
        for (let i = 1; i <= count; i++)
          positions.push(await broker.publish(roomId, frame(`h${i}`)));
        return positions;
      }

      it('keeps a room’s newest publications, oldest first, with the position they were read at', async () => {
        const sent = await publishMany('hist', 8);
        const { publications, position } = await broker.history('hist', { limit: 50 });
        expect(position).toEqual({ offset: sent[7].offset, epoch: sent[7].epoch });
        expect(offsets(publications)).toEqual([4, 5, 6, 7, 8]);
        expect(publications.map((p) => p.data)).toEqual([4, 5, 6, 7, 8].map((i) => frame(`h${i}`)));
        expect(publications.every((p) => p.epoch === position.epoch && p.roomId === 'hist')).toBe(
          true,
        );
        expect(offsets((await broker.history('hist', { limit: 2 })).publications)).toEqual([7, 8]);
      });

      it('pages back with before, and answers the position alone for a limit of 0', async () => {
        await publishMany('paged', 8);
        const page = await broker.history('paged', { before: 7, limit: 2 });
        expect(offsets(page.publications)).toEqual([5, 6]);
        expect(
          offsets((await broker.history('paged', { before: 5, limit: 10 })).publications),
        ).toEqual([4]);
        expect((await broker.history('paged', { before: 4, limit: 10 })).publications).toEqual([]);
        const none = await broker.history('paged', { limit: 0 });
        expect(none.publications).toEqual([]);
        expect(none.position.offset).toBe(8);
      });

      it('returns what came after a position of the same epoch, and nothing for another epoch', async () => {
        const sent = await publishMany('since', 8);
        const { epoch } = sent[0];
        const after = (offset: number, limit = 10) =>
          broker.history('since', { since: { offset, epoch }, limit });
        expect(offsets((await after(5)).publications)).toEqual([6, 7, 8]);
        expect(offsets((await after(5, 2)).publications)).toEqual([6, 7]);
        expect((await after(8)).publications).toEqual([]);
        // Older than what is kept: the oldest kept come first, so the caller sees the gap.
        expect(offsets((await after(1)).publications)).toEqual([4, 5, 6, 7, 8]);
        const other = await broker.history('since', {
          since: { offset: 5, epoch: 'other' },
          limit: 10,
        });
        expect(other.publications).toEqual([]);
        expect(other.position).toEqual({ offset: sent[7].offset, epoch: sent[7].epoch });
      });

      it('keeps membership publications in the history like any other', async () => {
        await broker.publish('kinds', { kind: 'join', userId: 'alice' });
        await broker.publish('kinds', frame('hello'));
        await broker.publish('kinds', { kind: 'leave', userId: 'alice' });
        const { publications } = await broker.history('kinds', { limit: 10 });
        expect(publications.map((p) => p.data)).toEqual([
          { kind: 'join', userId: 'alice', at: expect.any(Number) },
          frame('hello'),
          { kind: 'leave', userId: 'alice', at: expect.any(Number) },
        ]);
      });

      it('keeps one epoch for a subscribed room between its first read and its first publication', async () => {
        await broker.subscribe('new-room');
        const before = await broker.history('new-room', { limit: 0 });
        const first = await broker.publish('new-room', frame('first'));
        expect(first).toEqual({ offset: 1, epoch: before.position.epoch, duplicate: false });
        await broker.unsubscribe('new-room');
      });

      it('does not create a room nobody subscribed to by reading it', async () => {
        const read = await broker.history('read-only-room', { limit: 0 });
        expect(read.position.offset).toBe(0);
        // Offset 0 of an epoch of its own: no stream the room gets later matches it.
        const again = await broker.history('read-only-room', { limit: 0 });
        expect(again.position.epoch).not.toBe(read.position.epoch);
        const first = await broker.publish('read-only-room', frame('first'));
        expect(first.offset).toBe(1);
        expect([read.position.epoch, again.position.epoch]).not.toContain(first.epoch);
      });
    });
  });
}

/** `data` as a subscriber receives it: a membership change stamped with some time. */
function stampedLike(data: PublicationData): PublicationData {
  return data.kind === 'frame' ? data : { ...data, at: expect.any(Number) as number };
}
