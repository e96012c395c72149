import { Allow, IsOptional, IsString, Length } from 'class-validator';
import { CORRELATION_ID_MAX_LENGTH } from '../../protocol/rpc.protocol';

/**
 * One call of the HTTP API: `{method, params?, correlation_id?}`. The correlation id is optional
 * (the answer comes back in the same request, in the same position); given, it is echoed.
 * Other fields (a Django client's `timestamp`, `type`) are ignored.
 */
export class RpcCallDto {
  // Decorators run bottom-up: the type check must come last in the source to be reported first.
  @Length(1, 100, { message: 'method must be a string of 1 to 100 characters' })
  @IsString({ message: 'method must be a string' })
  method!: string;

  @Allow()
  params?: unknown;

  @IsOptional()
  @Length(1, CORRELATION_ID_MAX_LENGTH, {
    message: `correlation_id must be a string of 1 to ${CORRELATION_ID_MAX_LENGTH} characters`,
  })
  @IsString({ message: 'correlation_id must be a string' })
  correlation_id?: string;

  /**
   * The DTO of a parsed JSON object, reading its own fields only: a `__proto__` key of the
   * JSON (an own property after JSON.parse) is never assigned, so it cannot change the prototype.
   */
  static from(fields: Readonly<Record<string, unknown>>): RpcCallDto {
    const call = new RpcCallDto();
    call.method = fields.method as string;
    call.params = fields.params;
    call.correlation_id = fields.correlation_id as string | undefined;
    return call;
  }
}
