import { CloseCode, NO_RECONNECT_RANGE, RECONNECT_RANGE } from '../../src/protocol/close-codes';

/** Names for people of the close codes a chat connection can end with (RFC 6455 §7.4.1). */
const NAMES: Readonly<Record<number, string>> = {
  1000: 'normal closure',
  1001: 'going away',
  1002: 'protocol error',
  1006: 'connection lost',
  1007: 'invalid data',
  [CloseCode.PolicyViolation]: 'policy violation',
  [CloseCode.MessageTooBig]: 'message too big',
  [CloseCode.InternalError]: 'internal error',
  [CloseCode.ServiceRestart]: 'service restart',
  [CloseCode.TryAgainLater]: 'try again later',
  [CloseCode.DisconnectedByBackend]: 'disconnected by the backend: do not reconnect',
};

/** The name of `code`, or undefined for a code nobody here sends. */
export function closeCodeName(code: number): string | undefined {
  if (code in NAMES) return NAMES[code];
  if (code >= RECONNECT_RANGE.from && code <= RECONNECT_RANGE.to) return 'reconnect later';
  if (code >= NO_RECONNECT_RANGE.from && code <= NO_RECONNECT_RANGE.to) return 'do not reconnect';
  return undefined;
}
