import { InMemoryUserConnections } from '../../src/auth/in-memory-user-connections';
import { describeUserConnectionsContract } from './user-connections.contract';

describeUserConnectionsContract('in memory', () =>
  Promise.resolve({ counter: new InMemoryUserConnections(), stop: () => Promise.resolve() }),
);
