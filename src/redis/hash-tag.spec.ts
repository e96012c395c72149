import { hashTagOf } from './hash-tag';

describe('hashTagOf', () => {
  it.each([
    ['{rpc}:requests', 'rpc'],
    ['stream:{rpc}:requests', 'rpc'],
    ['{a}{b}', 'a'],
    ['x{a}b}', 'a'],
  ])('reads the tag of %s as Redis does', (key, tag) => {
    expect(hashTagOf(key)).toBe(tag);
  });

  it.each(['stream:requests', '{}:requests', 'a{b', 'a}b{'])('finds no tag in %s', (key) => {
    expect(hashTagOf(key)).toBeUndefined();
  });
});
