import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
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
    @Headers(IDEMPOTENCY_KEY_HEADER) idempotencyKey: string | undefined,
    @Res({ passthrough: true }) response: StatusSetter,
  ): Promise<RpcReply | RpcReply[]> {
    const answer = await this.api.handle(body, idempotencyKey);
    response.status(answer.status);
    return answer.body;
  }
}
