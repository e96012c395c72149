import { InMemoryRoomStore } from './in-memory-room-store';
import { describeRoomStoreContract } from './room-store.contract';

describeRoomStoreContract('in memory', () => Promise.resolve(new InMemoryRoomStore()));
