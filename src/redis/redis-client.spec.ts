import { redisTarget } from './redis-client';

describe('redisTarget', () => {
  it('is the one Redis of REDIS_URL when no cluster is named', () => {
    const target = redisTarget({ REDIS_URL: 'redis://h:6379', REDIS_CLUSTER_NODES: '' });
    expect(target).toEqual({ kind: 'single', url: 'redis://h:6379' });
  });

  it('reads cluster seeds as host:port or URLs, the first credentials applying to every node', () => {
    const target = redisTarget({
      REDIS_URL: '',
      REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis://app:p%40ss@10.0.0.2:7001,redis://:other@h:7002',
    });
    expect(target).toEqual({
      kind: 'cluster',
      seeds: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: 'h', port: 7002 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: false,
    });
  });

  it('turns TLS on when a seed is rediss://', () => {
    const target = redisTarget({ REDIS_URL: '', REDIS_CLUSTER_NODES: 'rediss://h:7000' });
    expect(target).toMatchObject({ kind: 'cluster', tls: true });
  });
});
