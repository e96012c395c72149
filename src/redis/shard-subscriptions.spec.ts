import { ShardSubscriptions } from './shard-subscriptions';

describe('ShardSubscriptions', () => {
  const owners = new Map<string, string>();
  const ownerOf = (roomId: string): string | undefined => owners.get(roomId);
  let shards: ShardSubscriptions;

  beforeEach(() => {
    owners.clear();
    owners.set('a', 'node-1').set('b', 'node-1').set('c', 'node-2');
    shards = new ShardSubscriptions(ownerOf);
    for (const roomId of ['a', 'b', 'c']) shards.subscribed(roomId);
  });

  it('finds nothing stale while every room is read from its owner', () => {
    expect(shards.stale(['a', 'b', 'c'])).toEqual([]);
    expect(shards.whenSubscribed('a')).toBeUndefined();
  });

  it('loses the rooms of a shard that ended, and holds them until subscribed again', async () => {
    shards.shardLost('node-1');
    expect(shards.stale(['a', 'b', 'c'])).toEqual(['a', 'b']);
    expect(shards.whenSubscribed('c')).toBeUndefined();
    const gate = shards.whenSubscribed('a');
    let opened = false;
    void gate?.then(() => (opened = true));
    owners.set('a', 'node-3');
    shards.subscribed('a');
    await Promise.resolve();
    expect(opened).toBe(true);
    expect(shards.stale(['a', 'b', 'c'])).toEqual(['b']);
  });

  it('finds a room whose slot moved to another shard stale, and lost until subscribed there', () => {
    owners.set('c', 'node-1');
    expect(shards.stale(['a', 'b', 'c'])).toEqual(['c']);
    expect(shards.whenSubscribed('c')).toBeInstanceOf(Promise);
    shards.subscribed('c');
    expect(shards.stale(['a', 'b', 'c'])).toEqual([]);
  });

  it('opens the gate of a lost room that is not read any more', async () => {
    shards.roomLost('a');
    const gate = shards.whenSubscribed('a');
    shards.removed('a');
    await expect(gate).resolves.toBeUndefined();
    expect(shards.lostRooms).toBe(0);
  });
});
