import { frames } from './chat.protocol';

describe('frames', () => {
  it('builds the auth frame of an authenticated connection', () => {
    expect(frames.auth('1.2.3', { userId: 'alice', expiresAt: 1_796_152_939_000 })).toEqual({
      type: 'auth',
      status: 'ok',
      userId: 'alice',
      expiresAt: 1_796_152_939_000,
      server_version: '1.2.3',
    });
  });

  it('leaves userId and expiresAt out of the auth frame under AUTH_MODE=none', () => {
    expect(JSON.stringify(frames.auth('1.2.3'))).toBe(
      '{"type":"auth","status":"ok","server_version":"1.2.3"}',
    );
  });

  it('builds the answer to a refresh', () => {
    expect(frames.refreshed(42)).toEqual({ type: 'refreshed', expiresAt: 42 });
  });
});
