import { CLOSE_CODE_TABLE, CloseCode } from '../../src/protocol/close-codes';
import { closeCodeName } from './close-code-names';

describe('closeCodeName', () => {
  it.each(CLOSE_CODE_TABLE.map((row) => row.code))(
    'names %i, a code of the README table the server sends',
    (code) => {
      expect(closeCodeName(code)).toEqual(expect.stringMatching(/\w/));
    },
  );

  it.each(Object.values(CloseCode))('names %i, a code of the protocol', (code) => {
    expect(closeCodeName(code)).toEqual(expect.stringMatching(/\w/));
  });

  it('names 1008 and 1013 as what they mean', () => {
    expect(closeCodeName(1008)).toBe('policy violation');
    expect(closeCodeName(1013)).toBe('try again later');
  });

  it('tells the application ranges apart and leaves an unknown code unnamed', () => {
    expect(closeCodeName(4000)).toBe('reconnect later');
    expect(closeCodeName(4999)).toBe('do not reconnect');
    expect(closeCodeName(1234)).toBeUndefined();
  });
});
