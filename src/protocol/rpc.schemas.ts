import { JsonSchema, enumSchema, objectSchema, ref } from './json-schema';
import {
  CORRELATION_ID_MAX_LENGTH,
  RpcErrorBody,
  RpcErrorCode,
  RpcErrorFrame,
  RpcFailureReply,
  RpcResponseFrame,
  RpcSuccessReply,
  ValidationErrorItem,
} from './rpc.protocol';

/* The schemas of the RPC answers, as tables of their interfaces (see chat.schemas.ts). */

const CORRELATION_ID: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: CORRELATION_ID_MAX_LENGTH,
};

export const RPC_SCHEMAS = {
  CorrelationId: CORRELATION_ID,
  RpcErrorCode: enumSchema('Code of an RPC error; never renamed.', RpcErrorCode),
  ValidationErrorItem: objectSchema<ValidationErrorItem>('One invalid field of `invalid_params`.', {
    field: { type: 'string', description: 'A dotted path into params, or the call’s own field.' },
    error: { type: 'string' },
  }),
  RpcErrorBody: objectSchema<RpcErrorBody>('Why a call failed.', {
    code: ref('RpcErrorCode'),
    message: { type: 'string' },
    details: {
      type: 'object',
      optional: true,
      description: '`validation_errors` (ValidationErrorItem[]) for `invalid_params`.',
      properties: { validation_errors: { type: 'array', items: ref('ValidationErrorItem') } },
    },
    retryable: { type: 'boolean' },
    retry_after: { type: 'integer', minimum: 0, optional: true, description: 'seconds' },
  }),
  ServerRpcResponse: objectSchema<RpcResponseFrame>('A call over the socket succeeded.', {
    type: { const: 'response' },
    correlation_id: ref('CorrelationId'),
    result: { description: 'The method’s result (see its `…Result` definition).' },
  }),
  ServerRpcError: objectSchema<RpcErrorFrame>('A call over the socket failed.', {
    type: { const: 'error' },
    correlation_id: ref('CorrelationId'),
    code: ref('RpcErrorCode'),
    message: { type: 'string' },
    error: ref('RpcErrorBody'),
  }),
  RpcSuccessReply: objectSchema<RpcSuccessReply>('A backend’s call succeeded (bridge, HTTP API).', {
    type: { const: 'response' },
    correlation_id: { ...CORRELATION_ID, optional: true },
    success: { const: true },
    result: { description: 'The method’s result.' },
  }),
  RpcFailureReply: objectSchema<RpcFailureReply>('A backend’s call failed (bridge, HTTP API).', {
    type: { const: 'error' },
    correlation_id: { ...CORRELATION_ID, optional: true },
    success: { const: false },
    error: ref('RpcErrorBody'),
    error_code: ref('RpcErrorCode'),
  }),
  RpcReply: {
    description: 'Seed 003’s reply to a backend’s call: `success` says which.',
    oneOf: [ref('RpcSuccessReply'), ref('RpcFailureReply')],
  },
} satisfies Record<string, JsonSchema>;
