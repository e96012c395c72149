/** The part of JSON Schema 2020-12 the wire contract is written in (contract/schema.json). */
export interface JsonSchema {
  $ref?: string;
  type?: JsonType | readonly JsonType[];
  const?: string | number | boolean;
  enum?: readonly (string | number)[];
  title?: string;
  description?: string;
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  oneOf?: readonly JsonSchema[];
  anyOf?: readonly JsonSchema[];
  allOf?: readonly JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  format?: string;
}

export type JsonType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';

/** A reference to a named definition of the contract. */
export function ref(name: string): JsonSchema {
  return { $ref: `#/$defs/${name}` };
}

/**
 * The schema of one field of `T`: `optional: true` exactly when the field may be absent in `T`,
 * so the compiler rejects a table that disagrees with its interface.
 */
export type FieldSchemas<T> = {
  [K in keyof T]-?: Record<never, never> extends Pick<T, K>
    ? JsonSchema & { optional: true }
    : JsonSchema & { optional?: never };
};

/**
 * An object schema written as a table of `T`'s fields: a field added to the interface fails to
 * compile until it is described here, and a field described here must exist in the interface.
 */
export function objectSchema<T>(description: string, fields: FieldSchemas<T>): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  const entries = Object.entries<JsonSchema & { optional?: true }>(fields);
  for (const [name, field] of entries) {
    const { optional, ...schema } = field;
    properties[name] = schema;
    if (!optional) required.push(name);
  }
  return { type: 'object', description, properties, required };
}

/** The schema of a string enum's values (ErrorCode, RpcErrorCode). */
export function enumSchema(
  description: string,
  values: Readonly<Record<string, string>>,
): JsonSchema {
  return { type: 'string', description, enum: Object.values(values) };
}
