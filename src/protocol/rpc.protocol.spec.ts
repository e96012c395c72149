import { ChatError } from './chat-error';
import { ErrorCode } from './error-code';
import { refusalFrame } from './error-frame';
import {
  invalidParams,
  isCorrelationId,
  RpcError,
  RpcErrorCode,
  rpcErrorOf,
  rpcFrames,
  rpcReplies,
} from './rpc.protocol';

describe('RPC frames', () => {
  it('answers a call that resolved with nothing with result null, so the field is there', () => {
    expect(JSON.stringify(rpcFrames.response('c1', undefined))).toBe(
      '{"type":"response","correlation_id":"c1","result":null}',
    );
  });

  it('gives an error frame the seed-000 code and message and seed 003’s error object', () => {
    const error = new RpcError(RpcErrorCode.RateLimited, 'slow down', {
      retryable: true,
      retryAfter: 2,
    });
    expect(rpcFrames.error('c1', error)).toEqual({
      type: 'error',
      correlation_id: 'c1',
      code: 'rate_limited',
      message: 'slow down',
      error: { code: 'rate_limited', message: 'slow down', retryable: true, retry_after: 2 },
    });
  });

  it('builds invalid_params with its validation errors under details', () => {
    expect(invalidParams('bad', [{ field: 'a.b', error: 'b must be a string' }]).toBody()).toEqual({
      code: 'invalid_params',
      message: 'bad',
      details: { validation_errors: [{ field: 'a.b', error: 'b must be a string' }] },
      retryable: false,
    });
  });

  it('builds seed 003’s replies to a backend, with the correlation id only when there is one', () => {
    expect(rpcReplies.success('c1', { ok: 1 })).toEqual({
      type: 'response',
      correlation_id: 'c1',
      success: true,
      result: { ok: 1 },
    });
    const failure = rpcReplies.failure(undefined, new RpcError(RpcErrorCode.Timeout, 'late'));
    expect(failure).toEqual({
      type: 'error',
      success: false,
      error: { code: 'timeout', message: 'late', retryable: false },
      error_code: 'timeout',
    });
  });

  it.each([
    ['c', true],
    ['c'.repeat(128), true],
    ['', false],
    ['c'.repeat(129), false],
    [7, false],
    [undefined, false],
  ])('takes %j as a correlation id: %s', (value, expected) => {
    expect(isCorrelationId(value)).toBe(expected);
  });
});

describe('refusals of rpc frames', () => {
  it.each([
    [ErrorCode.RateLimited, 'rate_limited'],
    [ErrorCode.InvalidMessage, 'invalid_params'],
    [ErrorCode.UserMismatch, 'forbidden'],
    [ErrorCode.Forbidden, 'forbidden'],
    [ErrorCode.UnknownType, 'method_not_found'],
    [ErrorCode.InvalidToken, 'unauthenticated'],
    [ErrorCode.Internal, 'internal_error'],
    [ErrorCode.Unavailable, 'unavailable'],
  ])('answers %s as %s', (code, rpcCode) => {
    expect(rpcErrorOf(new ChatError(code, 'no')).code).toBe(rpcCode);
  });

  it('makes rate_limited retryable, after retry_after seconds', () => {
    const error = rpcErrorOf(new ChatError(ErrorCode.RateLimited, 'no'), { retryAfter: 3 });
    expect(error.toBody()).toEqual({
      code: 'rate_limited',
      message: 'no',
      retryable: true,
      retry_after: 3,
    });
  });

  it('makes unavailable retryable: a broker that could not publish is never an internal_error', () => {
    // Even from a ChatError that did not say so: nothing (or, after a timeout, the keyed
    // publication that a retry finds) was published.
    const error = rpcErrorOf(new ChatError(ErrorCode.Unavailable, 'retry'));
    expect(error.toBody()).toEqual({ code: 'unavailable', message: 'retry', retryable: true });
  });

  it('keeps the error frame for a frame without a correlation id', () => {
    const error = new ChatError(ErrorCode.RateLimited, 'no');
    expect(refusalFrame(error, undefined, { retryAfter: 1 })).toEqual({
      type: 'error',
      code: 'rate_limited',
      message: 'no',
    });
    expect(refusalFrame(error, 'c1')).toMatchObject({ correlation_id: 'c1', code: 'rate_limited' });
  });
});
