import type { Frame } from './test-client';

// Server frames as the README specifies them, written from its text rather than from the
// server's own builders, so a change of shape on the server fails the tests.

export const joinedFrame = (userId: string, roomId: string) => ({
  type: 'joined',
  roomId,
  userId,
  message: `Joined room: ${roomId}`,
});

export const userJoinedFrame = (userId: string, roomId: string) => ({
  type: 'user_joined',
  userId,
  roomId,
  message: `${userId} joined the room`,
});

export const userLeftFrame = (userId: string, roomId: string) => ({
  type: 'user_left',
  userId,
  roomId,
  message: `${userId} left the room`,
});

export const chatFrame = (userId: string, roomId: string, content: string) => ({
  type: 'chat_message',
  userId,
  roomId,
  content,
  timestamp: expect.any(String),
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
