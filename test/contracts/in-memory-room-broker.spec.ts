import { InMemoryRoomBroker } from '../../src/rooms/in-memory-room-broker';
import { CONTRACT_HISTORY_SIZE, describeRoomBrokerContract } from './room-broker.contract';

describeRoomBrokerContract(
  'in memory',
  () => Promise.resolve({ broker: new InMemoryRoomBroker({ size: CONTRACT_HISTORY_SIZE }) }),
  ({ broker }) => {
    broker.onModuleDestroy();
    return Promise.resolve();
  },
);
