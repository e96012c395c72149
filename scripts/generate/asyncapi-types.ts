/** The parts of an AsyncAPI 3.0.0 document the generator writes (plain JSON, written as YAML). */
export type Ref = { $ref: string };

export interface AsyncMessage {
  name: string;
  title: string;
  summary: string;
  contentType: string;
  payload: Ref | { type: 'string'; pattern?: string };
  correlationId?: Ref;
  examples?: { name: string; payload: unknown }[];
}

export interface AsyncChannel {
  address: string;
  title: string;
  description: string;
  servers: Ref[];
  parameters?: Record<string, { description: string }>;
  messages: Record<string, Ref>;
}

export interface AsyncOperation {
  action: 'send' | 'receive';
  channel: Ref;
  summary: string;
  messages: Ref[];
  reply?: { address?: { location: string }; channel: Ref; messages: Ref[] };
}

/** Where the contract's schema file is, from the AsyncAPI document beside it. */
export const SCHEMA_FILE = 'schema.json';

export function payloadRef(definition: string): Ref {
  return { $ref: `${SCHEMA_FILE}#/$defs/${definition}` };
}

export function examplesOf(name: string, payloads: readonly unknown[]): AsyncMessage['examples'] {
  return payloads.length === 0
    ? undefined
    : payloads.map((payload, index) => ({ name: `${name}-${index + 1}`, payload }));
}
