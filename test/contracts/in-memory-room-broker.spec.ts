import { InMemoryRoomBroker } from '../../src/rooms/in-memory-room-broker';
import { CONTRACT_HISTORY_SIZE, describeRoomBrokerContract } from './room-broker.contract';

const WINDOW_MS = 300_000;

describeRoomBrokerContract(
  'in memory',
  () => {
    // A clock of its own: the idempotency window passes when the case says so.
    let now = 1_000_000;
    const broker = new InMemoryRoomBroker(
      { size: CONTRACT_HISTORY_SIZE, idempotencyWindowMs: WINDOW_MS },
      () => now,
    );
    const passIdempotencyWindow = (): Promise<void> => {
      now += WINDOW_MS;
      return Promise.resolve();
    };
    return Promise.resolve({ broker, passIdempotencyWindow });
  },
  ({ broker }) => {
    broker.onModuleDestroy();
    return Promise.resolve();
  },
);
