import type { ArgumentMetadata } from '@nestjs/common';
import { ChatError } from '../../protocol/chat-error';
import { ErrorCode } from '../../protocol/error-code';
import { WsValidationPipe } from '../../transport/ws-validation.pipe';
import { ChatMessageDto } from './chat-message.dto';
import { JoinDto } from './join.dto';
import { SwitchRoomDto } from './switch-room.dto';

const pipe = new WsValidationPipe();
const body = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({
  type: 'body',
  metatype,
});

function refusal(value: unknown, metatype: ArgumentMetadata['metatype']): ChatError {
  try {
    pipe.transform(value, body(metatype));
  } catch (error) {
    if (error instanceof ChatError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be refused`);
}

describe('message DTOs', () => {
  it.each([
    [JoinDto, { userId: 'user_abc123' }],
    [JoinDto, { userId: 'a', roomId: 'room.name:1@x-y_z' }],
    [JoinDto, { userId: 'u'.repeat(128) }],
    [JoinDto, { userId: 'a', roomId: null }],
    [ChatMessageDto, { userId: 'a', content: 'Hello everyone!' }],
    [SwitchRoomDto, { userId: 'a', roomId: 'new_room' }],
  ])('accepts a valid %p body', (dto, value) => {
    expect(pipe.transform(value, body(dto))).toBeInstanceOf(dto);
  });

  it.each([
    [JoinDto, {}, 'userId'],
    [JoinDto, { userId: 5 }, 'userId'],
    [JoinDto, { userId: '' }, 'userId'],
    [JoinDto, { userId: 'has space' }, 'userId'],
    [JoinDto, { userId: 'u'.repeat(129) }, 'userId'],
    [JoinDto, { userId: 'a', roomId: 'ü' }, 'roomId'],
    [JoinDto, { userId: ['a'] }, 'userId'],
    [ChatMessageDto, { userId: 'a' }, 'content'],
    [ChatMessageDto, { userId: 'a', content: '' }, 'content'],
    [ChatMessageDto, { userId: 'a', content: { text: 'x' } }, 'content must be a string'],
    [SwitchRoomDto, { userId: 'a' }, 'roomId'],
  ])('refuses %p %j naming the field %s', (dto, value, field) => {
    const error = refusal(value, dto);
    expect(error.code).toBe(ErrorCode.InvalidMessage);
    expect(error.message).toContain(field);
  });

  it('strips fields the message type does not define', () => {
    const dto = pipe.transform({ userId: 'a', isAdmin: true }, body(JoinDto));
    expect(dto).toEqual(Object.assign(new JoinDto(), { userId: 'a' }));
  });

  it('refuses a body that is not an object', () => {
    expect(refusal('join', JoinDto).code).toBe(ErrorCode.InvalidMessage);
  });

  it('leaves parameters that are not message bodies alone', () => {
    const socket = { any: 'thing' };
    expect(pipe.transform(socket, { type: 'custom', metatype: Function })).toBe(socket);
  });
});
