import { dedupKeys } from './dedup';

describe('dedup keys', () => {
  it('keys a correlation id under the prefix, its record and waiters in one hash slot', () => {
    expect(dedupKeys('chat:', 'stream:requests', 'c-1')).toEqual({
      record: 'chat:{#rpc:c-1}:record',
      waiters: 'chat:{#rpc:c-1}:waiters',
    });
  });

  it('keys them in the request stream’s slot when its name has a hash tag', () => {
    expect(dedupKeys('chat:', '{rpc}:requests', 'c-1')).toEqual({
      record: 'chat:{rpc}#rpc:c-1:record',
      waiters: 'chat:{rpc}#rpc:c-1:waiters',
    });
  });

  it('keeps every id apart from every other', () => {
    for (const stream of ['stream:requests', '{rpc}:requests']) {
      const record = (id: string): string => dedupKeys('chat:', stream, id).record;
      expect(record('a}:record')).not.toBe(record('a'));
      expect(record('a:record')).not.toBe(record('a'));
      expect(dedupKeys('chat:', stream, 'a:waiters').waiters).not.toBe(record('a'));
    }
  });
});
