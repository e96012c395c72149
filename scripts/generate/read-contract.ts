import Ajv2020 from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SCHEMA_FILE } from './asyncapi-types';

/** A message of an AsyncAPI document as the tests read it. */
export interface DocumentMessage {
  payload: { $ref?: string };
  examples?: { name: string; payload: unknown }[];
}

export interface AsyncApiShape {
  operations: Record<string, { action: string; messages: { $ref: string }[] }>;
  components: { messages: Record<string, DocumentMessage> };
}

export function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

export function readAsyncApi(path: string): AsyncApiShape {
  return parse(readFileSync(path, 'utf8')) as AsyncApiShape;
}

/**
 * The validator of every named definition of a schema.json, by the reference the AsyncAPI
 * document gives it (`schema.json#/$defs/<name>`), with Ajv's JSON Schema 2020-12 and its strict
 * mode (an unknown keyword is an error).
 */
export function schemaValidators(schema: object): (ref: string) => ValidateFunction {
  const ajv = new Ajv2020({
    strict: true,
    allErrors: true,
    formats: {
      'date-time': (value: string) =>
        /^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(Date.parse(value)),
    },
  });
  ajv.addSchema(schema, SCHEMA_FILE);
  return (ref: string) => {
    const validate = ajv.getSchema(ref);
    if (!validate) throw new Error(`no schema at ${ref}`);
    return validate;
  };
}

export const contractPath = (root: string, file: string): string => join(root, 'contract', file);
