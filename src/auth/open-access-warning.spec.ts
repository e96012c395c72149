import { configWith } from '../config/load-config';
import { isLoopbackHost, openAccessWarning } from './open-access-warning';

describe('openAccessWarning', () => {
  it('warns with AUTH_MODE=none on a non-loopback HOST, naming the fix', () => {
    const warning = openAccessWarning(configWith({ HOST: '0.0.0.0' }));
    expect(warning).toContain('AUTH_MODE=none');
    expect(warning).toContain('AUTH_MODE=jwt');
  });

  it('stays quiet on a loopback HOST', () => {
    expect(openAccessWarning(configWith({ HOST: '127.0.0.1' }))).toBeUndefined();
  });

  it('stays quiet with AUTH_MODE=jwt', () => {
    const config = configWith({ AUTH_MODE: 'jwt', JWT_SECRET: 'x'.repeat(32), HOST: '0.0.0.0' });
    expect(openAccessWarning(config)).toBeUndefined();
  });
});

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1'])(
    '%s is loopback',
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );

  it.each(['0.0.0.0', '::', '10.0.0.5', 'fly-local-6pn', '::ffff:10.0.0.1', '128.0.0.1'])(
    '%s is not',
    (host) => expect(isLoopbackHost(host)).toBe(false),
  );
});
