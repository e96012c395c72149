import { InMemoryRoomBroker } from '../../src/rooms/in-memory-room-broker';
import { describeRoomBrokerContract } from './room-broker.contract';
import { RoomHub } from '../../src/rooms/room-hub';

describeRoomBrokerContract('in memory', () => {
  const hub = new RoomHub();
  return Promise.resolve({ broker: new InMemoryRoomBroker(hub), hub });
});
