import type { Publication } from './publication';
import { recoverable } from './recovery';

const E = 'epochA';
const pubs = (from: number, to: number, epoch = E): Publication[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    roomId: 'r',
    offset: from + i,
    epoch,
    data: { kind: 'frame', frame: '{}' },
  }));
const at = (offset: number, epoch = E) => ({ offset, epoch });

describe('recoverable', () => {
  it('replays every publication after since when all are retained', () => {
    const publications = pubs(4, 8);
    expect(recoverable(at(3), { publications, position: at(8) }, 300)).toBe(publications);
  });

  it('recovers with nothing to replay when nothing was missed', () => {
    expect(recoverable(at(8), { publications: [], position: at(8) }, 300)).toEqual([]);
  });

  it('refuses another epoch, a position ahead of the stream, too many missed, or a gap', () => {
    expect(recoverable(at(3, 'old'), { publications: [], position: at(8) }, 300)).toBeUndefined();
    expect(recoverable(at(9), { publications: [], position: at(8) }, 300)).toBeUndefined();
    expect(recoverable(at(3), { publications: pubs(4, 8), position: at(8) }, 4)).toBeUndefined();
    // The oldest missed (4, 5) are no longer retained.
    expect(recoverable(at(3), { publications: pubs(6, 8), position: at(8) }, 300)).toBeUndefined();
    // History off: nothing retained.
    expect(recoverable(at(3), { publications: [], position: at(8) }, 300)).toBeUndefined();
  });

  it('does not count what is not replayed (the joiner’s own join) toward the maximum', () => {
    const publications = pubs(4, 8);
    const own = (p: Publication) => p.offset === 8;
    expect(recoverable(at(3), { publications, position: at(8) }, 4, own)).toBe(publications);
    expect(recoverable(at(3), { publications, position: at(8) }, 3, own)).toBeUndefined();
  });

  it('refuses publications that are not consecutive', () => {
    const publications = [...pubs(4, 5), ...pubs(7, 8), ...pubs(9, 9)];
    expect(recoverable(at(3), { publications, position: at(8) }, 300)).toBeUndefined();
  });
});
