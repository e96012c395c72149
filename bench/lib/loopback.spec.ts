import { isLoopbackHost } from './loopback';

describe('the load generator target check', () => {
  it.each(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])(
    'accepts loopback %s',
    (host) => {
      expect(isLoopbackHost(host)).toBe(true);
    },
  );

  it.each(['0.0.0.0', '10.0.0.1', 'example.com', '::', '128.0.0.1'])('refuses %s', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});
