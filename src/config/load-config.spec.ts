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
      LOG_LEVEL: 'log',
      LOG_FORMAT: 'text',
    });
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
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
