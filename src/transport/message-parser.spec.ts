import { ChatError } from '../protocol/chat-error';
import { ErrorCode } from '../protocol/error-code';
import { parseFrame, rpcCorrelationIdOf, RefusedFrame } from './message-parser';

const known = new Set(['join', 'chat_message']);
const parse = (raw: unknown) => parseFrame(raw, known);
const errorCode = (raw: unknown): unknown => {
  const parsed = parse(raw);
  expect(parsed).toBeInstanceOf(ChatError);
  return (parsed as ChatError).code;
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
    ['{"type":"#protocol_error"}', ErrorCode.UnknownType],
    ['{"type":"__proto__"}', ErrorCode.UnknownType],
    ['{"type":"toString"}', ErrorCode.UnknownType],
    ['{"type":"join","__proto__":{"polluted":1}}', ErrorCode.InvalidMessage],
    ['{"type":"join","constructor":{"prototype":{"polluted":1}}}', ErrorCode.InvalidMessage],
  ])('answers %s with %s', (raw, code) => {
    expect(errorCode(raw)).toBe(code);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('knows exactly the types it is given', () => {
    expect(parseFrame('{"type":"my_type"}', new Set(['my_type']))).toEqual({
      event: 'my_type',
      data: {},
    });
    expect((parseFrame('{"type":"join"}', new Set(['my_type'])) as ChatError).code).toBe(
      ErrorCode.UnknownType,
    );
  });

  it.each([
    ['{"type":"chat_message","userId":"a","content":"x\\ud800y"}', 'content'],
    ['{"type":"chat_message","userId":"a","content":"\\udfff"}', 'content'],
    ['{"type":"join","userId":"a\\ud83d"}', 'userId'],
  ])('refuses %s (a lone surrogate) as invalid_message naming %s', (raw, field) => {
    const parsed = parse(raw);
    expect(parsed).toBeInstanceOf(ChatError);
    expect((parsed as ChatError).code).toBe(ErrorCode.InvalidMessage);
    expect((parsed as ChatError).message).toContain(field);
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
    expect((parse(deep) as { event: string }).event).toBe('join');
  });

  it('echoes at most a short prefix of an unknown type', () => {
    const parsed = parse(JSON.stringify({ type: 'x'.repeat(10000) }));
    expect((parsed as ChatError).message.length).toBeLessThan(100);
  });

  describe('rpc frames', () => {
    const withRpc = new Set(['rpc', 'join']);

    it('keeps the correlation id of an rpc frame beside its fields', () => {
      expect(parseFrame('{"type":"rpc","method":"m","correlation_id":"c1"}', withRpc)).toEqual({
        event: 'rpc',
        data: { method: 'm', correlation_id: 'c1' },
        correlationId: 'c1',
      });
    });

    it.each([
      ['{"type":"rpc","method":"m"}'],
      ['{"type":"rpc","correlation_id":7}'],
      ['{"type":"rpc","correlation_id":""}'],
      [JSON.stringify({ type: 'rpc', correlation_id: 'c'.repeat(129) })],
      ['{"type":"join","userId":"a","correlation_id":"c1"}'],
    ])('keeps no correlation id the server could not echo: %s', (raw) => {
      expect(parseFrame(raw, withRpc)).not.toHaveProperty('correlationId');
    });

    it('refuses a bad rpc frame with its correlation id and the field at fault', () => {
      const refused = parseFrame(
        '{"type":"rpc","correlation_id":"c1","__proto__":{"polluted":1}}',
        withRpc,
      );
      expect(refused).toBeInstanceOf(RefusedFrame);
      expect(refused).toMatchObject({
        correlationId: 'c1',
        field: '__proto__',
        error: { code: ErrorCode.InvalidMessage },
      });
    });

    it('refuses an rpc frame whose correlation id holds a lone surrogate without echoing it', () => {
      expect(parseFrame('{"type":"rpc","correlation_id":"c\\ud800"}', withRpc)).toBeInstanceOf(
        ChatError,
      );
    });

    it.each([
      ['{"type":"rpc","method":"m","correlation_id":"c1"}', 'c1'],
      ['{"type":"chat_message","correlation_id":"c1"}', undefined],
      ['Bearer abc', undefined],
      ['[1]', undefined],
    ])('reads the correlation id of a first frame %s: %s', (raw, expected) => {
      expect(rpcCorrelationIdOf(raw)).toBe(expected);
    });
  });
});
