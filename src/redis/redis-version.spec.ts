import { MIN_REDIS_VERSION, redisVersionOf, redisVersionProblem } from './redis-version';

describe('the Redis version check', () => {
  it('reads redis_version from an INFO server answer', () => {
    const info = '# Server\r\nredis_version:7.2.4\r\nredis_git_sha1:00000000\r\n';
    expect(redisVersionOf(info)).toBe('7.2.4');
    expect(redisVersionOf('# Server\r\n')).toBeUndefined();
  });

  it.each(['7.0.0', '7.0.15', '7.2.4', '8.0.1', '10.0'])('accepts Redis %s', (version) => {
    expect(redisVersionProblem(version)).toBeUndefined();
  });

  it.each(['6.2.14', '6.0.16', '5.0.7', '2.8.0'])(
    'refuses Redis %s, saying what needs 7.0',
    (version) => {
      expect(redisVersionProblem(version)).toBe(
        `Redis ${version} is too old: this server needs Redis 7.0 or later (it is tested against ` +
          "7.0; the bridge uses XAUTOCLAIM, new in 6.2, and XINFO GROUPS' lag, new in 7.0); " +
          'upgrade the Redis at REDIS_URL',
      );
    },
  );

  it('gives a Redis that does not say its version the benefit of the doubt', () => {
    expect(redisVersionProblem(undefined)).toBeUndefined();
    expect(redisVersionProblem('unknown')).toBeUndefined();
  });

  it('needs 7.0', () => {
    expect(MIN_REDIS_VERSION).toBe('7.0.0');
  });
});
