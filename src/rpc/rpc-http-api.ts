import { Inject, Injectable, Logger } from '@nestjs/common';
import { validateSync } from 'class-validator';
import type { AnswerLease } from '../common/answer-pool';
import { logUnexpected } from '../protocol/error-frame';
import {
  CORRELATION_ID_MAX_LENGTH,
  invalidParams,
  isCorrelationId,
  RpcError,
  RpcErrorCode,
  RpcReply,
  rpcReplies,
} from '../protocol/rpc.protocol';
import { RpcCallDto } from './dto/rpc-call.dto';
import { KeyedSequencer } from './keyed-sequencer';
import { RpcCaller, RpcDispatcher } from './rpc-dispatcher';
import { isUnavailability, unavailableError } from './rpc-unavailable';

/** Calls one request of the HTTP API may hold; a larger batch is refused (400). */
export const MAX_BATCH_CALLS = 100;

/** What the HTTP API answers: the status and the JSON body. */
export interface RpcHttpAnswer {
  status: number;
  body: RpcReply | RpcReply[];
}

/** The status of a single call that failed, by its code. */
const STATUS_OF: Readonly<Record<RpcErrorCode, number>> = {
  [RpcErrorCode.InvalidParams]: 400,
  [RpcErrorCode.Unauthenticated]: 401,
  [RpcErrorCode.Forbidden]: 403,
  [RpcErrorCode.MethodNotFound]: 404,
  [RpcErrorCode.UserNotConnected]: 404,
  [RpcErrorCode.RateLimited]: 429,
  [RpcErrorCode.InternalError]: 500,
  [RpcErrorCode.Unavailable]: 503,
  [RpcErrorCode.Timeout]: 504,
};

/** The header naming a request's publications when its calls carry no `correlation_id`. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/**
 * `POST /api/rpc` once the key is checked and the JSON body read: one call `{method, params?,
 * correlation_id?}` answered with its reply (200, or the status of its error code: 400 for
 * `invalid_params`), or an array of 1 to MAX_BATCH_CALLS calls run one after another, in order,
 * answered 200 with one reply per call in the same order (a failed call does not stop the others).
 * Calls whose method names a room run one after another per room, in arrival order, with the
 * bridge's calls into that room; other rooms' calls run in parallel. The `history` answers of
 * one request share one lease of the AnswerPool: HISTORY_MAX_ANSWER_BYTES in all, a call past it
 * answered `unavailable`.
 *
 * A call's publications are idempotent (see `RoomBroker.publish`) under its `correlation_id`
 * when it has one, else under the request's `Idempotency-Key` header (the call's index appended
 * in a batch, `<key>#<index>`): sent again, it publishes nothing and answers the same result.
 */
@Injectable()
export class RpcHttpApi {
  private readonly logger = new Logger(RpcHttpApi.name);

  constructor(
    @Inject(RpcDispatcher) private readonly rpc: RpcDispatcher,
    private readonly sequencer: KeyedSequencer,
  ) {}

  /**
   * `idempotencyKeys`: the request's `Idempotency-Key` header lines, if any: one, of 1 to 128
   * characters (a repeated header names no one key: refused). `answers`: the request's share of
   * the pool of history answer bytes, shared by the calls of a batch.
   */
  async handle(
    body: unknown,
    idempotencyKeys?: readonly string[],
    answers?: AnswerLease,
  ): Promise<RpcHttpAnswer> {
    const idempotencyKey = idempotencyKeys?.[0];
    if (
      idempotencyKeys !== undefined &&
      (idempotencyKeys.length !== 1 || !isCorrelationId(idempotencyKey))
    ) {
      const reason = `the Idempotency-Key header must be given once, of 1 to ${CORRELATION_ID_MAX_LENGTH} characters`;
      return refused(invalidParams(reason, [{ field: 'Idempotency-Key', error: reason }]));
    }
    if (Array.isArray(body)) {
      if (body.length === 0 || body.length > MAX_BATCH_CALLS) {
        const reason = `a batch holds 1 to ${MAX_BATCH_CALLS} calls`;
        return refused(invalidParams(reason, [{ field: '', error: reason }]));
      }
      const replies: RpcReply[] = [];
      for (const [index, call] of body.entries()) {
        replies.push(await this.run(call, idempotencyKey && `${idempotencyKey}#${index}`, answers));
      }
      return { status: 200, body: replies };
    }
    if (typeof body !== 'object' || body === null) {
      const reason = 'the body must be a JSON call object or an array of them';
      return refused(invalidParams(reason, [{ field: '', error: reason }]));
    }
    const reply = await this.run(body, idempotencyKey, answers);
    return { status: reply.success ? 200 : STATUS_OF[reply.error_code], body: reply };
  }

  /** Runs one call; `headerKey` names its publications when it has no correlation id. */
  private async run(
    value: unknown,
    headerKey: string | undefined,
    answers: AnswerLease | undefined,
  ): Promise<RpcReply> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const reason = 'a call must be a JSON object';
      return rpcReplies.failure(undefined, invalidParams(reason, [{ field: '', error: reason }]));
    }
    const call = RpcCallDto.from(value as Record<string, unknown>);
    const errors = validateSync(call, {
      stopAtFirstError: true,
      validationError: { target: false, value: false },
    });
    const correlationId = errors.some((e) => e.property === 'correlation_id')
      ? undefined
      : call.correlation_id;
    if (errors.length > 0) {
      const items = errors.map((e) => ({
        field: e.property,
        error: Object.values(e.constraints ?? {})[0] ?? `${e.property} is invalid`,
      }));
      const message = items.map((item) => item.error).join('; ');
      return rpcReplies.failure(correlationId, invalidParams(message, items));
    }
    const caller: RpcCaller = {
      kind: 'backend',
      via: 'http',
      idempotencyKey: correlationId ?? headerKey,
      answers,
    };
    try {
      // Calls into one room run one after another in arrival order (queued before any await).
      const room = this.rpc.roomOf(call.method, call.params);
      const result = await this.sequencer.run(room, (release) =>
        this.rpc.call(call.method, call.params, { ...caller, onOrdered: release }),
      );
      return rpcReplies.success(correlationId, result);
    } catch (error) {
      if (error instanceof RpcError) return rpcReplies.failure(correlationId, error);
      if (isUnavailability(error)) return rpcReplies.failure(correlationId, unavailableError());
      logUnexpected(error, this.logger);
      const failure = new RpcError(RpcErrorCode.InternalError, 'internal server error');
      return rpcReplies.failure(correlationId, failure);
    }
  }
}

function refused(error: RpcError): RpcHttpAnswer {
  return { status: 400, body: rpcReplies.failure(undefined, error) };
}
