import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InMemoryRoomBroker, sizeOf } from './in-memory-room-broker';
import type { PublicationData } from './publication';

/*
 * The in-memory history's bound (issue 11, "Bounded memory"): 10,000 rooms with full history
 * stay under the documented figure. What the broker counts (`sizeOf`: two bytes a character plus
 * PUBLICATION_OVERHEAD_BYTES) is an upper bound of what the heap really holds, and what it counts
 * never passes HISTORY_MAX_BYTES. Heap figures are read after a full collection.
 */

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

const ROOMS = 10_000;
const SIZE = 100;

/** A chat frame as RoomsService serializes it, a different one for every publication. */
function chat(room: number, n: number): PublicationData {
  const frame = JSON.stringify({
    type: 'chat_message',
    userId: `user-${n % 7}`,
    roomId: `room-${room}`,
    content: `message ${n} of room ${room}: ${'lorem ipsum '.repeat(3)}`,
    timestamp: new Date(1_700_000_000_000 + n).toISOString(),
  });
  return { kind: 'frame', frame };
}

async function fill(broker: InMemoryRoomBroker, perRoom: number): Promise<void> {
  for (let room = 0; room < ROOMS; room++) {
    for (let n = 0; n < perRoom; n++) await broker.publish(`room-${room}`, chat(room, n));
  }
}

describe('in-memory history: bounded memory', () => {
  jest.setTimeout(120_000);

  it('holds 10,000 rooms of full history in at most what it counts', async () => {
    const broker = new InMemoryRoomBroker({ size: SIZE, maxRooms: ROOMS });
    try {
      const before = heapUsed();
      // More than SIZE per room: the ring has wrapped, as in a long-lived room.
      await fill(broker, SIZE + 20);
      const grown = heapUsed() - before;
      expect(broker.streamCount).toBe(ROOMS);
      const history = await broker.history('room-123', { limit: SIZE });
      expect(history.publications).toHaveLength(SIZE);
      expect(history.publications[0].offset).toBe(21);
      // The counted figure: every retained publication's sizeOf.
      const counted = broker.retainedBytes;
      let expected = 0;
      for (let room = 0; room < ROOMS; room++) {
        for (let n = 20; n < SIZE + 20; n++) expected += sizeOf(chat(room, n));
      }
      expect(counted).toBe(expected);
      expect(grown).toBeLessThan(counted);
    } finally {
      broker.onModuleDestroy();
    }
  });

  it('never counts more than HISTORY_MAX_BYTES: the least recently published rooms go', async () => {
    const maxBytes = 64 * 1024 * 1024;
    const broker = new InMemoryRoomBroker({ size: SIZE, maxRooms: ROOMS, maxBytes });
    try {
      const before = heapUsed();
      await fill(broker, SIZE);
      expect(broker.retainedBytes).toBeLessThanOrEqual(maxBytes);
      expect(heapUsed() - before).toBeLessThan(maxBytes);
      expect(broker.streamCount).toBeLessThan(ROOMS);
      // The newest rooms kept their whole history; the oldest lost it (and their position).
      expect(
        (await broker.history(`room-${ROOMS - 1}`, { limit: SIZE })).publications,
      ).toHaveLength(SIZE);
      const oldest = await broker.history('room-0', { limit: SIZE });
      expect(oldest).toMatchObject({ publications: [], position: { offset: 0 } });
    } finally {
      broker.onModuleDestroy();
    }
  });

  it('keeps at most HISTORY_MAX_ROOMS rooms', async () => {
    const broker = new InMemoryRoomBroker({ size: 1, maxRooms: 1_000 });
    try {
      for (let room = 0; room < 5_000; room++) await broker.publish(`r${room}`, chat(room, 0));
      expect(broker.streamCount).toBe(1_000);
      let kept = 0;
      for (let room = 4_000; room < 5_000; room++) kept += sizeOf(chat(room, 0));
      expect(broker.retainedBytes).toBe(kept);
    } finally {
      broker.onModuleDestroy();
    }
  });
});
