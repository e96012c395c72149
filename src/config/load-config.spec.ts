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
      MAX_INBOUND_QUEUE: 64,
      MAX_CONNECTIONS: 20000,
      MAX_CONNECTIONS_PER_IP: 1000,
      TRUST_PROXY: false,
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
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
