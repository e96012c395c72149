import { ErrorCode } from '../protocol/error-code';
import { PROTOCOL_ERROR_EVENT, createMessageParser } from './message-parser';

const parse = createMessageParser(new Set(['join', 'chat_message']));
const errorCode = (raw: unknown): unknown => {
  const parsed = parse(raw);
  expect(parsed.event).toBe(PROTOCOL_ERROR_EVENT);
  return (parsed.data as { code: ErrorCode }).code;
};

describe('message parser', () => {
  it('maps a flat frame to its type and the remaining fields', () => {
    expect(parse('{"type":"join","userId":"a","roomId":"r"}')).toEqual({
      event: 'join',
      data: { userId: 'a', roomId: 'r' },
    });
  });

  it.each([
    ['{bad', ErrorCode.InvalidJson],
    ['', ErrorCode.InvalidJson],
    ['null', ErrorCode.InvalidMessage],
    ['42', ErrorCode.InvalidMessage],
    ['"join"', ErrorCode.InvalidMessage],
    ['[{"type":"join"}]', ErrorCode.InvalidMessage],
    ['{"userId":"a"}', ErrorCode.InvalidMessage],
    ['{"type":7}', ErrorCode.InvalidMessage],
    ['{"type":"leave"}', ErrorCode.UnknownType],
    [`{"type":"${PROTOCOL_ERROR_EVENT}"}`, ErrorCode.UnknownType],
    ['{"type":"__proto__"}', ErrorCode.UnknownType],
    ['{"type":"join","__proto__":{"polluted":1}}', ErrorCode.InvalidMessage],
    ['{"type":"join","constructor":{"prototype":{"polluted":1}}}', ErrorCode.InvalidMessage],
  ])('answers %s with %s', (raw, code) => {
    expect(errorCode(raw)).toBe(code);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['{"type":"chat_message","userId":"a","content":"x\\ud800y"}', 'content'],
    ['{"type":"chat_message","userId":"a","content":"\\udfff"}', 'content'],
    ['{"type":"join","userId":"a\\ud83d"}', 'userId'],
  ])('refuses %s (a lone surrogate) as invalid_message naming %s', (raw, field) => {
    const parsed = parse(raw);
    expect(parsed.event).toBe(PROTOCOL_ERROR_EVENT);
    expect(parsed.data).toEqual({
      code: ErrorCode.InvalidMessage,
      message: expect.stringContaining(field) as string,
    });
  });

  it('accepts surrogate pairs (characters beyond the BMP)', () => {
    expect(parse('{"type":"chat_message","userId":"a","content":"\\ud83d\\ude00 ok"}')).toEqual({
      event: 'chat_message',
      data: { userId: 'a', content: '\u{1F600} ok' },
    });
  });

  it('refuses binary frames as unsupported', () => {
    expect(errorCode(Buffer.from('{"type":"join"}'))).toBe(ErrorCode.Unsupported);
  });

  it('parses deeply nested JSON without throwing', () => {
    const deep = `{"type":"join","userId":${'['.repeat(30000)}${']'.repeat(30000)}}`;
    expect(parse(deep).event).toBe('join');
  });

  it('echoes at most a short prefix of an unknown type', () => {
    const parsed = parse(JSON.stringify({ type: 'x'.repeat(10000) }));
    expect((parsed.data as { message: string }).message.length).toBeLessThan(100);
  });
});
