import { CLOSE_CODE_TABLE, CloseCode, RECONNECT_RANGE } from '../../src/protocol/close-codes';
import { RECONNECT_BACKOFF } from './backoff';
import {
  SERVICE_RESTART_FIRST_RETRY_MS,
  reconnectDelay,
  reconnectsAfterClose,
  reconnectsAfterRefusal,
} from './reconnect-policy';

describe('reconnect policy', () => {
  it.each([1001, 1005, 1006, 1011, 1012, 1013, 1014, 4000, 4001, 4002, 4499])(
    'reconnects after %i',
    (code) => {
      expect(reconnectsAfterClose(code)).toBe(true);
    },
  );

  it.each([1000, 1002, 1003, 1007, 1008, 1009, 1010, 1234, 3000, 4500, 4503, 4999])(
    'does not reconnect after %i',
    (code) => {
      expect(reconnectsAfterClose(code)).toBe(false);
    },
  );

  it('does not come back after a backend disconnected the user (user.disconnect)', () => {
    expect(reconnectsAfterClose(CloseCode.DisconnectedByBackend)).toBe(false);
  });

  it.each(CLOSE_CODE_TABLE)(
    'follows the README table for $code ($reconnect), with no exception',
    (row) => {
      expect(reconnectsAfterClose(row.code)).toBe(row.reconnect === 'yes');
    },
  );

  it.each(
    CLOSE_CODE_TABLE.filter((row) => row.code >= 4000 && row.code <= 4999).map((row) => row.code),
  )('treats application code %i as its range does', (code) => {
    expect(reconnectsAfterClose(code)).toBe(
      code >= RECONNECT_RANGE.from && code <= RECONNECT_RANGE.to,
    );
  });

  it('keeps trying through limits, draining and proxy errors, not through 401, 403 or 404', () => {
    expect([429, 500, 502, 503, 504].map(reconnectsAfterRefusal)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect([400, 401, 403, 404].map(reconnectsAfterRefusal)).toEqual([false, false, false, false]);
  });

  it('draws the first retry after a 1012 within two seconds, whatever the backoff', () => {
    const slow = { baseMs: 10_000, capMs: 60_000 };
    expect(reconnectDelay(0, CloseCode.ServiceRestart, slow, () => 0.999_999)).toBe(
      SERVICE_RESTART_FIRST_RETRY_MS - 1,
    );
    expect(reconnectDelay(1, CloseCode.ServiceRestart, slow, () => 0.5)).toBe(10_000);
  });

  it('backs off with full jitter after any other drop', () => {
    expect(reconnectDelay(0, 1006, RECONNECT_BACKOFF, () => 0.999_999)).toBe(499);
    expect(reconnectDelay(4, 1006, RECONNECT_BACKOFF, () => 0.5)).toBe(4000);
  });
});
