import { dedupKey, readDedup } from './dedup';

describe('dedup records', () => {
  it('reads a missing key as free, i<entry> as running, d<reply> as done', () => {
    expect(readDedup(null)).toEqual({ state: 'free' });
    expect(readDedup('i1700000000000-3')).toEqual({ state: 'running', entryId: '1700000000000-3' });
    expect(readDedup('d{"type":"response"}')).toEqual({
      state: 'done',
      reply: '{"type":"response"}',
    });
  });

  it('keys a correlation id under the prefix, apart from every other id', () => {
    expect(dedupKey('chat:', 'c-1')).toBe('chat:{#rpc:c-1}:reply');
    expect(dedupKey('chat:', 'a}:reply')).not.toBe(dedupKey('chat:', 'a'));
  });
});
