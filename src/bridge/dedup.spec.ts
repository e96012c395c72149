import { dedupKeys } from './dedup';

describe('dedup keys', () => {
  it('keys a correlation id under the prefix, its record and waiters in one hash slot', () => {
    expect(dedupKeys('chat:', 'c-1')).toEqual({
      record: 'chat:{#rpc:c-1}:record',
      waiters: 'chat:{#rpc:c-1}:waiters',
    });
  });

  it('keeps every id apart from every other', () => {
    expect(dedupKeys('chat:', 'a}:record').record).not.toBe(dedupKeys('chat:', 'a').record);
  });
});
