import { JsonSchema, objectSchema, ref } from './json-schema';

/**
 * Seed 003's request envelope on the backend bridge's Redis stream: the JSON text of the entry's
 * one field `payload`. The reply (RpcReply) is LPUSHed to `reply_to`.
 */
export interface BridgeEnvelope {
  type: 'rpc';
  method: string;
  params?: Record<string, unknown>;
  correlation_id: string;
  reply_to?: string;
  timeout?: number;
}

/** Seed 003's bounds of the envelope's fields. */
export const BRIDGE_NAME_MAX_LENGTH = 200;
export const BRIDGE_MAX_TIMEOUT_S = 300;
export const BRIDGE_DEFAULT_TIMEOUT_S = 30;
export const METHOD_NAME_PATTERN = /^[A-Za-z0-9_.]{1,100}$/;

const NAME: JsonSchema = { type: 'string', minLength: 1, maxLength: BRIDGE_NAME_MAX_LENGTH };

export const BRIDGE_SCHEMAS = {
  MethodName: { type: 'string', pattern: METHOD_NAME_PATTERN.source },
  BridgeRequest: objectSchema<BridgeEnvelope>('A backend’s call, XADDed to the request stream.', {
    type: { const: 'rpc' },
    method: ref('MethodName'),
    params: { type: 'object', optional: true, description: 'The method’s params; absent: {}.' },
    correlation_id: { ...NAME, description: 'Names the call; also its idempotency key.' },
    reply_to: { ...NAME, optional: true, description: 'The list the reply is pushed to.' },
    timeout: {
      type: 'number',
      minimum: 0,
      maximum: BRIDGE_MAX_TIMEOUT_S,
      optional: true,
      description: `Seconds the caller waits (default ${BRIDGE_DEFAULT_TIMEOUT_S}); 0: fire-and-forget.`,
    },
  }),
} satisfies Record<string, JsonSchema>;
