import type { ContractModel, MessageModel } from './contract-model';
import {
  AsyncChannel,
  AsyncMessage,
  AsyncOperation,
  examplesOf,
  payloadRef,
} from './asyncapi-types';

/** The WebSocket paths: the same protocol on both (`/ws` adds the `auth` frame). */
const SOCKET_CHANNELS = {
  root: {
    address: '/',
    title: 'WebSocket at /',
    description: 'Sends `auth` only to a connection that authenticated by its first frame.',
  },
  ws: {
    address: '/ws',
    title: 'WebSocket at /ws',
    description:
      'Sends `auth` as soon as the connection is authenticated (at once with AUTH_MODE=none).',
  },
} as const;

const CORRELATION = { $ref: '#/components/correlationIds/rpcCall' };
/** The generic call and answers, besides each method's own. */
const CORRELATED: ReadonlySet<string> = new Set([
  'ClientRpc',
  'ServerRpcResponse',
  'ServerRpcError',
]);

export interface SocketPart {
  messages: Record<string, AsyncMessage>;
  channels: Record<string, AsyncChannel>;
  operations: Record<string, AsyncOperation>;
}

/** Every socket message, the two socket channels, and an operation per message on each. */
export function socketPart(model: ContractModel): SocketPart {
  const messages: Record<string, AsyncMessage> = {};
  const received: string[] = [];
  const sent: string[] = [];
  for (const message of model.clientMessages) received.push(add(messages, message));
  for (const message of model.serverMessages) sent.push(add(messages, message));
  for (const method of model.methods) {
    if (method.call && method.response) {
      add(
        messages,
        { name: method.call, summary: `Calls \`${method.name}\``, examples: method.examples.call },
        true,
      );
      add(
        messages,
        {
          name: method.response,
          summary: `Answer of \`${method.name}\``,
          examples: method.examples.response,
        },
        true,
      );
    }
    if (method.event) {
      sent.push(
        add(messages, {
          name: method.event,
          summary: `The \`${method.name}\` event`,
          examples: method.examples.event,
        }),
      );
    }
  }
  const channels: Record<string, AsyncChannel> = {};
  const operations: Record<string, AsyncOperation> = {};
  for (const [id, { address, title, description }] of Object.entries(SOCKET_CHANNELS)) {
    channels[id] = {
      address,
      title,
      description: `JSON text frames \`{type, …}\` (README: Protocol, RPC). ${description}`,
      servers: [{ $ref: '#/servers/local' }],
      messages: Object.fromEntries(
        Object.keys(messages).map((name) => [name, { $ref: `#/components/messages/${name}` }]),
      ),
    };
    const channel = { $ref: `#/channels/${id}` };
    const message = (name: string) => ({ $ref: `#/channels/${id}/messages/${name}` });
    for (const name of received) {
      operations[`${id}_receive${name}`] = {
        action: 'receive',
        channel,
        summary: messages[name].summary,
        messages: [message(name)],
      };
    }
    for (const name of sent) {
      operations[`${id}_send${name}`] = {
        action: 'send',
        channel,
        summary: messages[name].summary,
        messages: [message(name)],
      };
    }
    for (const method of model.methods) {
      if (!method.call || !method.response) continue;
      operations[`${id}_call${method.stem}`] = {
        action: 'receive',
        channel,
        summary: method.description ?? `Calls \`${method.name}\`.`,
        messages: [message(method.call)],
        reply: { channel, messages: [message(method.response), message('ServerRpcError')] },
      };
    }
  }
  return { messages, channels, operations };
}

function add(
  messages: Record<string, AsyncMessage>,
  model: MessageModel,
  correlated = false,
): string {
  const text = model.name === 'ClientBearer';
  messages[model.name] = {
    name: model.name,
    title: model.name,
    summary: model.summary,
    contentType: text ? 'text/plain' : 'application/json',
    payload: payloadRef(model.name),
    ...((correlated || CORRELATED.has(model.name)) && { correlationId: CORRELATION }),
    ...(model.examples.length > 0 && { examples: examplesOf(model.name, model.examples) }),
  };
  return model.name;
}
