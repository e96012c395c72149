import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { ValidationError, validateSync } from 'class-validator';
import { ChatError } from '../protocol/chat-error';
import { ErrorCode } from '../protocol/error-code';

type DtoClass = new () => object;
const NOT_DTOS: ReadonlySet<unknown> = new Set([Object, String, Number, Boolean, Array]);

/**
 * Validates a message body against its class-validator DTO and strips unknown fields.
 *
 * Nest's ValidationPipe is not used: it converts with class-transformer, which recurses into every
 * nested value a client sends (a deeply nested array is a stack overflow) and reports HTTP errors.
 * Our fields are flat, so the body is copied onto a DTO instance and validated as it stands. The
 * parser has already refused `__proto__`/`constructor` keys, so the copy cannot change prototypes.
 */
@Injectable()
export class WsValidationPipe implements PipeTransform {
  transform(value: unknown, { metatype, type }: ArgumentMetadata): unknown {
    // Pipes also see the socket parameter; only message bodies typed with a class are validated.
    if (type !== 'body' || metatype === undefined || NOT_DTOS.has(metatype)) {
      return value;
    }
    if (typeof value !== 'object' || value === null) {
      throw new ChatError(ErrorCode.InvalidMessage, 'message must be a JSON object');
    }
    const dto: object = Object.assign(new (metatype as DtoClass)(), value);
    const errors = validateSync(dto, {
      whitelist: true,
      forbidUnknownValues: true,
      stopAtFirstError: true,
      validationError: { target: false, value: false },
    });
    if (errors.length > 0) throw new ChatError(ErrorCode.InvalidMessage, describe(errors[0]));
    return dto;
  }
}

function describe(error: ValidationError): string {
  const reason = Object.values(error.constraints ?? {})[0];
  return reason ?? `${error.property} is invalid`;
}
