import { AppConfig } from './app-config';
import { ConfigError, loadConfig } from './load-config';

describe('loadConfig', () => {
  it('uses the documented defaults for an empty environment', () => {
    expect({ ...loadConfig({}) }).toEqual({
      PORT: 8080,
      HOST: '0.0.0.0',
      MAX_MESSAGE_LENGTH: 10000,
      MAX_PAYLOAD_BYTES: 65536,
      HEARTBEAT_INTERVAL_MS: 30000,
      SHUTDOWN_TIMEOUT_MS: 10000,
      JOIN_TIMEOUT_MS: 10000,
      CLOSE_TIMEOUT_MS: 5000,
      RATE_LIMIT_PER_SECOND: 20,
      RATE_LIMIT_BURST: 40,
      ABUSE_ERRORS_MAX: 20,
      ABUSE_WINDOW_MS: 5000,
      MAX_BUFFERED_BYTES: 1048576,
      MAX_CONNECTIONS: 20000,
      MAX_CONNECTIONS_PER_IP: 1000,
      MAX_HTTP_CONNECTIONS: 40000,
      HTTP_MAX_PIPELINED: 8,
      HTTP_HEADERS_TIMEOUT_MS: 10000,
      HTTP_REQUEST_TIMEOUT_MS: 10000,
      TRUST_PROXY: false,
      TRUSTED_PROXIES: '127.0.0.0/8,::1,fdaa::/16',
      ALLOWED_ORIGINS: '',
      REDIS_URL: '',
      REDIS_KEY_PREFIX: 'chat:',
      PRESENCE_TTL_MS: 30000,
      LOG_LEVEL: 'log',
      LOG_FORMAT: 'text',
    });
  });

  it.each([
    ['true', true],
    ['1', true],
    ['YES', true],
    ['false', false],
    ['0', false],
  ])('reads TRUST_PROXY=%s as %s', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).TRUST_PROXY).toBe(expected);
  });

  it('accepts a comma-separated list of origins', () => {
    const origins = 'https://app.example.com, http://localhost:3000';
    expect(loadConfig({ ALLOWED_ORIGINS: origins }).ALLOWED_ORIGINS).toBe(origins);
  });

  it('reads every setting from the environment', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      MAX_MESSAGE_LENGTH: '50',
      MAX_PAYLOAD_BYTES: '4096',
      HEARTBEAT_INTERVAL_MS: '100',
      SHUTDOWN_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'json',
    });
    expect(config).toBeInstanceOf(AppConfig);
    expect(config).toMatchObject({ PORT: 9000, MAX_PAYLOAD_BYTES: 4096, LOG_FORMAT: 'json' });
  });

  it('defaults MAX_HTTP_CONNECTIONS to twice MAX_CONNECTIONS', () => {
    expect(loadConfig({ MAX_CONNECTIONS: '300' }).MAX_HTTP_CONNECTIONS).toBe(600);
    expect(
      loadConfig({ MAX_CONNECTIONS: '300', MAX_HTTP_CONNECTIONS: '450' }).MAX_HTTP_CONNECTIONS,
    ).toBe(450);
  });

  it('accepts addresses and CIDR ranges of either family as TRUSTED_PROXIES', () => {
    const proxies = '10.0.0.0/8, fdaa::/16,::1, 192.0.2.7';
    expect(loadConfig({ TRUSTED_PROXIES: proxies }).TRUSTED_PROXIES).toBe(proxies);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '' }).PORT).toBe(8080);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '80.5'],
    ['MAX_MESSAGE_LENGTH', '0'],
    ['MAX_PAYLOAD_BYTES', '12kb'],
    ['HEARTBEAT_INTERVAL_MS', '-5'],
    ['SHUTDOWN_TIMEOUT_MS', 'soon'],
    ['LOG_LEVEL', 'loud'],
    ['LOG_FORMAT', 'xml'],
    ['TRUST_PROXY', 'maybe'],
    ['TRUST_PROXY', 'constructor'],
    ['ALLOWED_ORIGINS', 'app.example.com'],
    ['ALLOWED_ORIGINS', 'https://a.example.com;https://b.example.com'],
    ['RATE_LIMIT_PER_SECOND', '0'],
    ['RATE_LIMIT_BURST', 'x'],
    ['ABUSE_ERRORS_MAX', '0'],
    ['MAX_BUFFERED_BYTES', '10'],
    ['MAX_CONNECTIONS', '0'],
    ['MAX_CONNECTIONS_PER_IP', '-1'],
    ['JOIN_TIMEOUT_MS', '1s'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_URL', 'http://redis'],
    ['REDIS_KEY_PREFIX', 'has space'],
    ['PRESENCE_TTL_MS', '10'],
    ['MAX_HTTP_CONNECTIONS', '0'],
    ['HTTP_MAX_PIPELINED', '0'],
    ['HTTP_HEADERS_TIMEOUT_MS', '10'],
    ['HTTP_REQUEST_TIMEOUT_MS', 'never'],
    ['TRUSTED_PROXIES', 'fly'],
    ['TRUSTED_PROXIES', '10.0.0.0/33'],
    ['TRUSTED_PROXIES', '10.0.0.1,,::1'],
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
