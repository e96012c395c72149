import { InMemoryRoomBroker } from '../../src/rooms/in-memory-room-broker';
import { CONTRACT_HISTORY_SIZE, describeRoomBrokerContract } from './room-broker.contract';

const WINDOW_MS = 300_000;

describeRoomBrokerContract(
  'in memory',
  () => {
    // The real clock, moved on when the case says the idempotency window passes.
    let skew = 0;
    const broker = new InMemoryRoomBroker(
      { size: CONTRACT_HISTORY_SIZE, idempotencyWindowMs: WINDOW_MS },
      () => Date.now() + skew,
    );
    const passIdempotencyWindow = (): Promise<void> => {
      skew += WINDOW_MS;
      return Promise.resolve();
    };
    return Promise.resolve({ broker, passIdempotencyWindow });
  },
  ({ broker }) => {
    broker.onModuleDestroy();
    return Promise.resolve();
  },
);
