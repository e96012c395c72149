import { InMemoryRoomBroker } from '../../src/rooms/in-memory-room-broker';
import { InMemoryRoomStore } from '../../src/rooms/in-memory-room-store';
import { describeRoomStoreContract } from './room-store.contract';

describeRoomStoreContract(
  'in memory',
  () => {
    const broker = new InMemoryRoomBroker();
    return Promise.resolve({ store: new InMemoryRoomStore(broker), broker });
  },
  ({ broker }) => {
    broker.onModuleDestroy();
    return Promise.resolve();
  },
);
