import fc from 'fast-check';
import { isPatternList, RoomPatternSet } from './room-patterns';

const matches = (patterns: string[], roomId: string): boolean =>
  RoomPatternSet.compile(patterns).matches(roomId);

describe('RoomPatternSet', () => {
  it.each([
    [['workspace:7'], 'workspace:7', true],
    [['workspace:7'], 'workspace:70', false],
    [['workspace:7'], 'workspace:', false],
    [['team:42:*'], 'team:42:general', true],
    [['team:42:*'], 'team:42:', true],
    [['team:42:*'], 'team:421:general', false],
    [['team:42:*'], 'team:4', false],
    [['*'], 'anything.at@all', true],
    [['*:docs'], 'team:docs', true],
    [['*:docs'], 'team:docs:old', false],
    [['a*b*c'], 'abc', true],
    [['a*b*c'], 'axxbyyc', true],
    [['a*b*c'], 'acb', false],
    [['a*b*c'], 'ac', false],
    [['ab*ba'], 'aba', false],
    [['ab*ba'], 'abba', true],
    [['a**b'], 'ab', true],
    [['team:*', 'workspace:7'], 'workspace:7', true],
    [['team:*', 'workspace:7'], 'workspace:8', false],
    [[], 'lobby', false],
  ])('%j matches %s: %s', (patterns, roomId, expected) => {
    expect(matches(patterns, roomId)).toBe(expected);
  });

  it('treats every character but * literally (. is not a wildcard)', () => {
    expect(matches(['a.b'], 'axb')).toBe(false);
    expect(matches(['a.b'], 'a.b')).toBe(true);
  });

  it('agrees with an escaped regular expression on random patterns and ids', () => {
    const alphabet = fc.constantFrom('a', 'b', ':', '.', '*');
    const text = fc
      .array(fc.constantFrom('a', 'b', ':', '.'), { maxLength: 12 })
      .map((c) => c.join(''));
    const pattern = fc.array(alphabet, { minLength: 1, maxLength: 8 }).map((c) => c.join(''));
    fc.assert(
      fc.property(pattern, text, (p, t) => {
        const regex = new RegExp(`^${p.split('*').map(escape).join('.*')}$`);
        return matches([p], t) === regex.test(t);
      }),
      { numRuns: 2000 },
    );
  });

  it('stays fast on patterns built to make a backtracking matcher explode', () => {
    // `^a.*a.*a…b$` against a run of `a`s is exponential for a backtracking regex engine.
    const pattern = `${'a*'.repeat(40)}b`;
    const roomId = 'a'.repeat(128);
    const set = RoomPatternSet.compile([pattern]);
    for (let i = 0; i < 1000; i++) expect(set.matches(roomId)).toBe(false);
  });
});

describe('isPatternList', () => {
  it.each([
    [[], true],
    [['team:*', 'workspace:7', '*'], true],
    ['team:*', false],
    [['team 1'], false],
    [[''], false],
    [['x'.repeat(257)], false],
    [[1], false],
    [null, false],
  ])('%j: %s', (value, expected) => {
    expect(isPatternList(value)).toBe(expected);
  });
});

function escape(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
