import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { AnswerPool } from '../common/answer-pool';
import type { RpcReply } from '../protocol/rpc.protocol';
import { IDEMPOTENCY_KEY_HEADER, RpcHttpApi } from './rpc-http-api';

/** The parts of Express' response the controller uses. */
interface StatusSetter {
  status(code: number): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * `POST /api/rpc`, for backends without Redis: the key (ApiKeyMiddleware) and the JSON body
 * (JsonBodyMiddleware, MAX_PAYLOAD_BYTES) are checked before it; RpcHttpApi runs the call(s),
 * whose history answers share one lease of the AnswerPool.
 */
@Controller('api')
export class RpcController {
  constructor(
    private readonly api: RpcHttpApi,
    private readonly answers: AnswerPool,
  ) {}

  @Post('rpc')
  @HttpCode(200)
  async call(
    @Body() body: unknown,
    @Req() request: IncomingMessage,
    @Res({ passthrough: true }) response: StatusSetter,
  ): Promise<RpcReply | RpcReply[]> {
    // Each line apart: Node joins repeated lines into one value ("a, b"), which is no one key.
    const keys = request.headersDistinct[IDEMPOTENCY_KEY_HEADER];
    // The request's answer bytes are held until the response is written or the client is gone.
    const lease = this.answers.lease();
    response.once('close', () => lease.release());
    const answer = await this.api.handle(body, keys, lease);
    response.status(answer.status);
    return answer.body;
  }
}
