import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { validateSync } from 'class-validator';
import { ChatError } from '../protocol/chat-error';
import { ErrorCode } from '../protocol/error-code';
import { invalidParams } from '../protocol/rpc.protocol';
import { RpcFrameDto } from './dto/rpc-frame.dto';

/**
 * Validates an `rpc` frame's own fields. Without a usable `correlation_id` no answer could be
 * matched to the call, so the frame is refused like any malformed frame (`invalid_message`, in
 * the error frame's shape); with one, a bad `method` or `idempotency_key` is the call's
 * `invalid_params`.
 */
@Injectable()
export class RpcFramePipe implements PipeTransform {
  transform(value: unknown, { type }: ArgumentMetadata): unknown {
    // Pipes also see the socket parameter; only the message body is the frame.
    if (type !== 'body') return value;
    if (typeof value !== 'object' || value === null) {
      throw new ChatError(ErrorCode.InvalidMessage, 'message must be a JSON object');
    }
    const frame = RpcFrameDto.from(value as Record<string, unknown>);
    const errors = validateSync(frame, {
      stopAtFirstError: true,
      validationError: { target: false, value: false },
    });
    const reasonOf = (property: keyof RpcFrameDto): string | undefined => {
      const error = errors.find((e) => e.property === property);
      return error && Object.values(error.constraints ?? {})[0];
    };
    const badId = reasonOf('correlation_id');
    if (badId !== undefined) throw new ChatError(ErrorCode.InvalidMessage, badId);
    for (const field of ['method', 'idempotency_key'] as const) {
      const bad = reasonOf(field);
      if (bad !== undefined) throw invalidParams(bad, [{ field, error: bad }]);
    }
    return frame;
  }
}
