import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import { invalidParams, ValidationErrorItem } from '../protocol/rpc.protocol';
import type { ParamsClass } from './rpc-method';

/**
 * Nesting of objects and arrays a call's params may have. class-transformer recurses into every
 * nested value (a deeply nested array would overflow the stack), and no method needs more.
 */
export const MAX_PARAMS_DEPTH = 32;

// Keys that change an object's prototype when copied with assignment; no field of ours uses them.
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The validated params of a call: an instance of `dto` built from `raw` with class-transformer
 * and checked with class-validator. Absent params (`undefined`, or `null`, as JSON clients send
 * "nothing") are `{}`. Properties the DTO does not declare are stripped, not refused: backends
 * (Django) send extras such as `timestamp`, and a newer client must keep working against an older
 * server. Throws `invalid_params` with one `validation_errors` item per failed field.
 */
export function validateParams<P extends object>(dto: ParamsClass<P>, raw: unknown): P {
  const plain = raw ?? {};
  if (typeof plain !== 'object' || Array.isArray(plain)) {
    throw invalidParams('params must be a JSON object', [
      { field: 'params', error: 'params must be a JSON object' },
    ]);
  }
  const shapeError = checkShape(plain, '', 1);
  if (shapeError) throw invalidParams(`invalid params: ${shapeError.error}`, [shapeError]);
  const params = plainToInstance(dto, plain);
  const errors = validateSync(params, {
    whitelist: true,
    forbidNonWhitelisted: false,
    // The value is always an instance of the DTO; a DTO without fields (a method without params)
    // has no metadata, which this option would refuse.
    forbidUnknownValues: false,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
  });
  if (errors.length > 0) {
    const items = flatten(errors, '');
    throw invalidParams(`invalid params: ${items.map((item) => item.field).join(', ')}`, items);
  }
  return params;
}

/**
 * The first structural fault of a params value, if any: nesting deeper than MAX_PARAMS_DEPTH, a
 * prototype key, a string (or key) with a lone surrogate, which would break strict JSON parsers
 * of whoever receives what the method publishes.
 */
function checkShape(value: object, path: string, depth: number): ValidationErrorItem | undefined {
  if (depth > MAX_PARAMS_DEPTH) {
    return { field: path, error: `nested deeper than ${MAX_PARAMS_DEPTH} levels` };
  }
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((item, index): [string, unknown] => [String(index), item])
    : Object.entries(value);
  for (const [key, item] of entries) {
    const field = path === '' ? key : `${path}.${key}`;
    if (RESERVED_KEYS.has(key)) return { field, error: `${key} is not an allowed key` };
    if (!isWellFormed(key) || (typeof item === 'string' && !isWellFormed(item))) {
      return { field, error: 'must be well-formed Unicode (no lone surrogates)' };
    }
    if (typeof item === 'object' && item !== null) {
      const fault = checkShape(item, field, depth + 1);
      if (fault) return fault;
    }
  }
  return undefined;
}

/** One item per failed field, named by its dotted path (`file.path`, `items.0.name`). */
function flatten(errors: readonly ValidationError[], parent: string): ValidationErrorItem[] {
  const items: ValidationErrorItem[] = [];
  for (const error of errors) {
    const field = parent === '' ? error.property : `${parent}.${error.property}`;
    const reason = Object.values(error.constraints ?? {})[0];
    if (reason !== undefined) items.push({ field, error: reason });
    if (error.children && error.children.length > 0) items.push(...flatten(error.children, field));
  }
  return items;
}

/** `String.prototype.isWellFormed` (Node 20; ES2024, beyond the ES2022 lib we compile against). */
function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}
