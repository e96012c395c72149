import { InMemoryRoomStore } from '../../src/rooms/in-memory-room-store';
import { describeRoomStoreContract } from './room-store.contract';

describeRoomStoreContract('in memory', () => Promise.resolve(new InMemoryRoomStore()));
