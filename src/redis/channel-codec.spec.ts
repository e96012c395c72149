import { decodePublication, decodeStored, encodeData } from './channel-codec';

describe('the channel format', () => {
  it('reads a membership change with the time the script wrote', () => {
    expect(decodePublication('lobby', '4:e1:j1765134000250\nalice')).toEqual({
      publication: {
        roomId: 'lobby',
        offset: 4,
        epoch: 'e1',
        data: { kind: 'join', userId: 'alice', at: 1765134000250 },
      },
      shownBy: undefined,
    });
    expect(
      decodePublication('lobby', '5:e1:L1765134000999\ni-1\nbob:x@y')?.publication.data,
    ).toEqual({ kind: 'leave', userId: 'bob:x@y', at: 1765134000999 });
    expect(decodePublication('lobby', '5:e1:L1765134000999\ni-1\nbob')?.shownBy).toBe('i-1');
  });

  it('reads one written without a time (an all-digit user id included) with no time', () => {
    expect(decodeStored('r', { offset: 1, epoch: 'e' }, 'j12345')?.publication.data).toEqual({
      kind: 'join',
      userId: '12345',
    });
    const old = decodeStored('r', { offset: 1, epoch: 'e' }, 'Jd8f0c3e1-5b0d\nalice');
    expect(old?.publication.data).toEqual({ kind: 'join', userId: 'alice' });
    expect(old?.shownBy).toBe('d8f0c3e1-5b0d');
  });

  it('sends a membership change without its time: the script writes Redis’ clock', () => {
    expect(encodeData({ kind: 'join', userId: 'alice', at: 5 })).toEqual(['j', 'alice']);
  });
});
