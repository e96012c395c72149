import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { RpcReply } from '../protocol/rpc.protocol';
import { IDEMPOTENCY_KEY_HEADER, RpcHttpApi } from './rpc-http-api';

/** The part of Express' response the controller sets. */
interface StatusSetter {
  status(code: number): unknown;
}

/**
 * `POST /api/rpc`, for backends without Redis: the key (ApiKeyMiddleware) and the JSON body
 * (JsonBodyMiddleware, MAX_PAYLOAD_BYTES) are checked before it; RpcHttpApi runs the call(s).
 */
@Controller('api')
export class RpcController {
  constructor(private readonly api: RpcHttpApi) {}

  @Post('rpc')
  @HttpCode(200)
  async call(
    @Body() body: unknown,
    @Req() request: IncomingMessage,
    @Res({ passthrough: true }) response: StatusSetter,
  ): Promise<RpcReply | RpcReply[]> {
    // Each line apart: Node joins repeated lines into one value ("a, b"), which is no one key.
    const keys = request.headersDistinct[IDEMPOTENCY_KEY_HEADER];
    const answer = await this.api.handle(body, keys);
    response.status(answer.status);
    return answer.body;
  }
}
