import { BrokerUnavailableError } from '../rooms/room-broker';
import { RpcError, RpcErrorCode } from '../protocol/rpc.protocol';
import { isUnavailability, unavailableError } from './rpc-unavailable';

describe('isUnavailability', () => {
  it.each([
    ['a command timeout', new Error('Command timed out')],
    ['a closed connection', new Error('Connection is closed.')],
    [
      'a connection not ready yet',
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    ],
    [
      'the retry limit',
      new Error('Reached the max retries per request limit (which is 1). Refer to …'),
    ],
    ['a Redis still loading', new Error('LOADING Redis is loading the dataset in memory')],
    ['a busy script', new Error('BUSY Redis is busy running a script')],
    ['a broker refusal', new BrokerUnavailableError('publish to r refused')],
    ['the unavailable RpcError', unavailableError()],
    ['a reset socket', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
  ])('holds for %s', (_what, error) => {
    expect(isUnavailability(error)).toBe(true);
  });

  it.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'x')")],
    [
      'a refusal of the command',
      new Error('WRONGTYPE Operation against a key holding the wrong kind'),
    ],
    ['another RpcError', new RpcError(RpcErrorCode.InternalError, 'internal')],
    ['a value that is no error', 'Command timed out'],
  ])('does not hold for %s', (_what, error) => {
    expect(isUnavailability(error)).toBe(false);
  });

  it('answers unavailable, retryable', () => {
    expect(unavailableError().toBody()).toMatchObject({ code: 'unavailable', retryable: true });
  });
});
