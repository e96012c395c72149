import { Logger } from '@nestjs/common';
import { configWith } from '../config/load-config';
import { RedisConnections } from './redis-connections';
import { connectionState, failureState, redisErrorCode } from './redis-state';

describe('a Redis connection state in our words', () => {
  it.each([
    ['ready', 'connected'],
    ['reconnecting', 'reconnecting'],
    ['connecting', 'connecting'],
    ['connect', 'connecting'],
    ['wait', 'connecting'],
    ['close', 'closed'],
    ['end', 'closed'],
  ])('calls the client status %s %s', (status, state) => {
    expect(connectionState(status)).toBe(state);
  });

  it.each([
    ['Command timed out', { state: 'not answering' }],
    [
      'OOM command not allowed when used memory > maxmemory',
      { state: 'refusing commands', code: 'OOM' },
    ],
    [
      'LOADING Redis is loading the dataset in memory',
      { state: 'refusing commands', code: 'LOADING' },
    ],
    ["Stream isn't writeable and enableOfflineQueue options is false", { state: 'reconnecting' }],
    ['Connection is closed.', { state: 'reconnecting' }],
  ])('reads the failure "%s" as %j', (message, state) => {
    expect(failureState(new Error(message))).toEqual(state);
  });

  it('takes only an error reply code for a code, never the first letter of a sentence', () => {
    expect(redisErrorCode('WRONGTYPE Operation against a key')).toBe('WRONGTYPE');
    expect(redisErrorCode("Stream isn't writeable")).toBeUndefined();
    expect(redisErrorCode('S')).toBeUndefined();
  });
});

describe('RedisConnections, repeated command failures', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('names the failure in words in the first line and in the summary of its repeats', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // lazyConnect: nothing connects until connect(), which this test never calls.
    const redis = new RedisConnections(configWith({ REDIS_URL: 'redis://127.0.0.1:1' }));
    const offline = new Error("Stream isn't writeable and enableOfflineQueue options is false");
    for (let i = 0; i < 4; i++) redis.failed(offline);
    redis.failed(new Error('OOM command not allowed when used memory > maxmemory'));
    jest.advanceTimersByTime(10_000);
    expect(warn.mock.calls.map(([line]) => String(line))).toEqual([
      "A Redis command failed: Stream isn't writeable and enableOfflineQueue options is false",
      'Redis refused a command (OOM): OOM command not allowed when used memory > maxmemory',
      'A Redis command failed: repeated 3 more time(s) in the last 10 s',
    ]);
    await redis.onApplicationShutdown();
  });
});
