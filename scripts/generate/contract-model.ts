import { BRIDGE_SCHEMAS } from '../../src/protocol/bridge.schemas';
import { CHAT_SCHEMAS } from '../../src/protocol/chat.schemas';
import { EVENT_SCHEMAS } from '../../src/protocol/event.schemas';
import { JsonSchema, ref } from '../../src/protocol/json-schema';
import { RPC_SCHEMAS } from '../../src/protocol/rpc.schemas';
import type { RpcMethodDefinition, RpcPermission } from '../../src/rpc/rpc-method';
import { ErrorCode } from '../../src/protocol/error-code';
import { RpcErrorCode } from '../../src/protocol/rpc.protocol';
import { closeCodeSchema } from './close-code-schema';
import { documentedCodes } from './code-schemas';
import type { ClientMessageSource, ContractSource } from './contract-source';
import { Definitions } from './definitions';
import { Dto, dtoSchema } from './dto-schema';
import { CLIENT_EXAMPLES, SERVER_EXAMPLES } from './examples';
import { MethodExamples, methodExamples } from './method-examples';
import { addHttpApiSchemas } from './http-api-schemas';
import { pascal } from './names';

/** One message of the socket: its payload's definition and examples. */
export interface MessageModel {
  name: string;
  summary: string;
  examples: readonly unknown[];
}

/** One RPC method and the names of its definitions. */
export interface MethodModel {
  name: string;
  stem: string;
  description: string | undefined;
  permission: RpcPermission;
  params: string;
  result: string;
  /** The socket's call frame and answer; undefined for a backend-only method. */
  call: string | undefined;
  response: string | undefined;
  /** The room event it publishes, typed; undefined when it publishes none. */
  event: string | undefined;
  examples: MethodExamples;
}

/** The contract: every named definition, and what the documents list. */
export interface ContractModel {
  defs: Definitions;
  clientMessages: MessageModel[];
  serverMessages: MessageModel[];
  methods: MethodModel[];
}

const TABLES: readonly Readonly<Record<string, JsonSchema>>[] = [
  CHAT_SCHEMAS,
  RPC_SCHEMAS,
  EVENT_SCHEMAS,
  BRIDGE_SCHEMAS,
];

/** The contract of what `source` registers, with the server's typed tables beside. */
export function buildContractModel(source: ContractSource): ContractModel {
  const defs = new Definitions();
  for (const table of TABLES) {
    for (const [name, schema] of Object.entries(table)) defs.add(name, documented(name, schema));
  }
  defs.add('CloseCode', closeCodeSchema());
  addHttpApiSchemas(defs);
  const clientMessages = source.messages.map((message) => addClientMessage(defs, message));
  clientMessages.push(
    {
      name: 'ClientRefresh',
      summary: 'A new token (AUTH_MODE=jwt).',
      examples: CLIENT_EXAMPLES.refresh,
    },
    {
      name: 'ClientBearer',
      summary: 'The text `Bearer <jwt>`: the first frame of a connection without a token.',
      examples: CLIENT_EXAMPLES.bearer,
    },
  );
  const methods = source.methods.map((method) => addMethod(defs, method));
  const serverMessages = Object.keys(defs.toObject())
    .filter((name) => name.startsWith('Server'))
    .map((name) => ({
      name,
      summary: defs.get(name).description ?? name,
      examples: SERVER_EXAMPLES[name] ?? [],
    }));
  defs.add('ClientMessage', union('Any message a client sends.', clientMessages));
  defs.add('ServerFrame', union('Any frame the server sends.', serverMessages));
  return { defs, clientMessages, serverMessages, methods };
}

/** The error codes with each code's doc comment. */
function documented(name: string, schema: JsonSchema): JsonSchema {
  if (name === 'ErrorCode') return documentedCodes(schema, 'error-code.ts', name, ErrorCode);
  if (name === 'RpcErrorCode') {
    return documentedCodes(schema, 'rpc.protocol.ts', name, RpcErrorCode);
  }
  return schema;
}

function union(description: string, messages: readonly MessageModel[]): JsonSchema {
  return { description, anyOf: messages.map((message) => ref(message.name)) };
}

function addNested(defs: Definitions, nested: Map<string, Dto>): void {
  for (const [name, dto] of nested) {
    if (defs.has(name)) continue;
    const child = dtoSchema(dto);
    defs.add(name, child.schema);
    addNested(defs, child.nested);
  }
}

function addClientMessage(defs: Definitions, message: ClientMessageSource): MessageModel {
  const { schema, nested } = dtoSchema(message.dto);
  const name = defs.add(`Client${pascal(message.type)}`, {
    type: 'object',
    description: `The \`${message.type}\` message (validated as ${message.dto.name}).`,
    properties: { type: { const: message.type }, ...schema.properties },
    required: ['type', ...(schema.required ?? [])],
  });
  addNested(defs, nested);
  const examples = CLIENT_EXAMPLES[message.type] ?? [];
  return { name, summary: defs.get(name).description ?? name, examples };
}

function addMethod(defs: Definitions, method: RpcMethodDefinition): MethodModel {
  const stem = pascal(method.name);
  const about = method.description ?? `The RPC method \`${method.name}\`.`;
  const params = dtoSchema(method.params);
  defs.add(`${stem}Params`, { description: `Params of \`${method.name}\`.`, ...params.schema });
  addNested(defs, params.nested);
  defs.add(`${stem}Result`, resultSchema(defs, method));
  const socket = method.permission !== 'backend';
  return {
    name: method.name,
    stem,
    description: method.description,
    permission: method.permission,
    params: `${stem}Params`,
    result: `${stem}Result`,
    call: socket ? defs.add(`${stem}Call`, callSchema(method, stem, about)) : undefined,
    response: socket ? defs.add(`${stem}Response`, responseSchema(method, stem)) : undefined,
    event: method.event ? addEvent(defs, method, stem) : undefined,
    examples: methodExamples(method),
  };
}

function resultSchema(defs: Definitions, method: RpcMethodDefinition): JsonSchema {
  const description = `Result of \`${method.name}\`.`;
  const result = method.result;
  if (result === undefined) return { description: `${description} Any JSON value.` };
  if (typeof result !== 'function') return { ...result, description };
  const { schema, nested } = dtoSchema(result);
  addNested(defs, nested);
  return { description, ...schema };
}

function callSchema(method: RpcMethodDefinition, stem: string, about: string): JsonSchema {
  return {
    type: 'object',
    description: `Calls \`${method.name}\` over the socket: ${about}`,
    properties: {
      type: { const: 'rpc' },
      method: { const: method.name },
      params: ref(`${stem}Params`),
      correlation_id: ref('CorrelationId'),
      idempotency_key: {
        ...ref('CorrelationId'),
        description: 'Makes its publications idempotent.',
      },
    },
    required: ['type', 'method', 'correlation_id'],
  };
}

function responseSchema(method: RpcMethodDefinition, stem: string): JsonSchema {
  return {
    type: 'object',
    description: `The answer of a \`${method.name}\` call that succeeded.`,
    properties: {
      type: { const: 'response' },
      correlation_id: ref('CorrelationId'),
      result: ref(`${stem}Result`),
    },
    required: ['type', 'correlation_id', 'result'],
  };
}

function addEvent(defs: Definitions, method: RpcMethodDefinition, stem: string): string {
  defs.add(`${stem}EventData`, {
    ...ref(`${stem}Params`),
    description: `\`data\` of the \`${method.name}\` event: the call’s params as validated.`,
  });
  return defs.add(`${stem}Event`, {
    description: `The \`${method.name}\` room event.`,
    allOf: [
      ref('ServerEvent'),
      {
        type: 'object',
        properties: { event: { const: method.name }, data: ref(`${stem}EventData`) },
      },
    ],
  });
}
