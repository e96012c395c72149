import { keySlot } from './key-slot';

describe('keySlot', () => {
  it('answers the slots Redis documents', () => {
    // From the Redis Cluster specification: CRC16("123456789") = 0x31C3.
    expect(keySlot('123456789')).toBe(0x31c3 % 16_384);
    expect(keySlot('foo')).toBe(12_182);
    expect(keySlot('')).toBe(0);
    // As redis-server 7.0's CLUSTER KEYSLOT answers them.
    expect(keySlot('{user1000}.following')).toBe(3_443);
    expect(keySlot('foo{{bar}}zap')).toBe(4_015);
    expect(keySlot('café')).toBe(5_735);
  });

  it('hashes only the hash tag when there is one, and the whole key for an empty one', () => {
    expect(keySlot('chat:{lobby}:ch')).toBe(keySlot('lobby'));
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('foo{}{bar}')).toBe(keySlot('foo{}{bar}'));
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
  });

  it('hashes the UTF-8 bytes of a key', () => {
    expect(keySlot('{café}:ch')).toBe(keySlot('café'));
    expect(keySlot('café')).not.toBe(keySlot('cafe'));
  });
});
