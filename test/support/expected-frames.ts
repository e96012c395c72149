import type { Frame } from './test-client';

// Server frames as the README specifies them, written from its text rather than from the
// server's own builders, so a change of shape on the server fails the tests.

/** The position every frame broadcast to a room carries (and `joined`): any offset, any epoch. */
export const POSITIONED = {
  offset: expect.any(Number) as number,
  epoch: expect.any(String) as string,
};

export const joinedFrame = (userId: string, roomId: string) => ({
  type: 'joined',
  roomId,
  userId,
  message: `Joined room: ${roomId}`,
  ...POSITIONED,
});

/** An ISO-8601 timestamp as the server writes them (`Date.prototype.toISOString`). */
export const ISO_TIMESTAMP = expect.stringMatching(
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
) as string;

export const userJoinedFrame = (userId: string, roomId: string) => ({
  type: 'user_joined',
  userId,
  roomId,
  message: `${userId} joined the room`,
  timestamp: ISO_TIMESTAMP,
  ...POSITIONED,
});

export const userLeftFrame = (userId: string, roomId: string) => ({
  type: 'user_left',
  userId,
  roomId,
  message: `${userId} left the room`,
  timestamp: ISO_TIMESTAMP,
  ...POSITIONED,
});

export const chatFrame = (userId: string, roomId: string, content: string) => ({
  type: 'chat_message',
  userId,
  roomId,
  content,
  timestamp: expect.any(String),
  ...POSITIONED,
});

export const isChat =
  (content: string) =>
  (frame: Frame): boolean =>
    frame.type === 'chat_message' && frame.content === content;

/** An error frame with `code`, and `message` if given (any explanation otherwise). */
export const errorFrame = (code: string, message?: string) => ({
  type: 'error',
  code,
  message: message ?? (expect.any(String) as string),
});
