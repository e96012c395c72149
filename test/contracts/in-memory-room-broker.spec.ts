import { InMemoryRoomBroker } from '../../src/rooms/in-memory-room-broker';
import { describeRoomBrokerContract } from './room-broker.contract';

describeRoomBrokerContract(
  'in memory',
  () => Promise.resolve({ broker: new InMemoryRoomBroker() }),
  ({ broker }) => {
    broker.onModuleDestroy();
    return Promise.resolve();
  },
);
