import { Allow, IsOptional, IsString, Length } from 'class-validator';
import { CORRELATION_ID_MAX_LENGTH } from '../../protocol/rpc.protocol';

/**
 * `{type:"rpc", method, params?, correlation_id, idempotency_key?}` (seed 003's request). `params`
 * is validated by the method's own DTO, in the registry; absent means `{}`. `idempotency_key`
 * makes the call's publications idempotent (scoped by the caller's user); the correlation id
 * does not, being a per-connection counter.
 */
export class RpcFrameDto {
  // Decorators run bottom-up: the type check must come last in the source to be reported first.
  @Length(1, CORRELATION_ID_MAX_LENGTH, {
    message: `correlation_id must be a string of 1 to ${CORRELATION_ID_MAX_LENGTH} characters`,
  })
  @IsString({ message: 'correlation_id must be a string' })
  correlation_id!: string;

  @Length(1, 100, { message: 'method must be a string of 1 to 100 characters' })
  @IsString({ message: 'method must be a string' })
  method!: string;

  @Allow()
  params?: unknown;

  @IsOptional()
  @Length(1, CORRELATION_ID_MAX_LENGTH, {
    message: `idempotency_key must be a string of 1 to ${CORRELATION_ID_MAX_LENGTH} characters`,
  })
  @IsString({ message: 'idempotency_key must be a string' })
  idempotency_key?: string;

  /** The DTO of a parsed frame's fields, its own fields only (as RpcCallDto.from). */
  static from(fields: Readonly<Record<string, unknown>>): RpcFrameDto {
    const frame = new RpcFrameDto();
    frame.correlation_id = fields.correlation_id as string;
    frame.method = fields.method as string;
    frame.params = fields.params;
    frame.idempotency_key = fields.idempotency_key as string | undefined;
    return frame;
  }
}
