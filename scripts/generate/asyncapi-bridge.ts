import { AppConfig } from '../../src/config/app-config';
import type { ContractModel } from './contract-model';
import {
  AsyncChannel,
  AsyncMessage,
  AsyncOperation,
  examplesOf,
  payloadRef,
} from './asyncapi-types';
import { BRIDGE_EXAMPLES } from './examples';

export interface BridgePart {
  messages: Record<string, AsyncMessage>;
  channels: Record<string, AsyncChannel>;
  operations: Record<string, AsyncOperation>;
}

/**
 * The backend bridge (with REDIS_URL): a backend XADDs a request to the stream, the server
 * LPUSHes the reply to the request's `reply_to` list. Names are the settings' defaults.
 */
export function bridgePart(model: ContractModel): BridgePart {
  const defaults = new AppConfig();
  const methods = model.methods.map((method) => `\`${method.name}\``).join(', ');
  const messages: Record<string, AsyncMessage> = {
    BridgeRequest: {
      name: 'BridgeRequest',
      title: 'BridgeRequest',
      summary: 'A backend’s call: the JSON text of the stream entry’s one field `payload`.',
      contentType: 'application/json',
      payload: payloadRef('BridgeRequest'),
      correlationId: { $ref: '#/components/correlationIds/bridgeCall' },
      examples: examplesOf('BridgeRequest', BRIDGE_EXAMPLES.request),
    },
    BridgeReply: {
      name: 'BridgeReply',
      title: 'BridgeReply',
      summary: 'The reply, LPUSHed to `reply_to` (which expires after RPC_RESPONSE_TTL_S).',
      contentType: 'application/json',
      payload: payloadRef('RpcReply'),
      correlationId: { $ref: '#/components/correlationIds/bridgeCall' },
      examples: examplesOf('BridgeReply', BRIDGE_EXAMPLES.reply),
    },
  };
  const channels: Record<string, AsyncChannel> = {
    requests: {
      address: defaults.RPC_REQUEST_STREAM,
      title: 'Request stream (RPC_REQUEST_STREAM)',
      description:
        `A Redis stream: \`XADD ${defaults.RPC_REQUEST_STREAM} MAXLEN ~ 10000 * payload <json>\`, ` +
        `read by the consumer group RPC_CONSUMER_GROUP. Methods: ${methods}.`,
      servers: [{ $ref: '#/servers/redis' }],
      messages: { BridgeRequest: { $ref: '#/components/messages/BridgeRequest' } },
    },
    replies: {
      address: `${defaults.RPC_REPLY_PREFIX}{correlationId}`,
      title: 'Reply list (RPC_REPLY_PREFIX)',
      description: 'A Redis list per call, named by the request’s `reply_to`: `BLPOP` it.',
      servers: [{ $ref: '#/servers/redis' }],
      parameters: { correlationId: { description: 'Usually the call’s `correlation_id`.' } },
      messages: { BridgeReply: { $ref: '#/components/messages/BridgeReply' } },
    },
  };
  const operations: Record<string, AsyncOperation> = {
    bridge_call: {
      action: 'receive',
      channel: { $ref: '#/channels/requests' },
      summary:
        'Runs a backend’s call and pushes the reply to its `reply_to` (none: fire-and-forget).',
      messages: [{ $ref: '#/channels/requests/messages/BridgeRequest' }],
      reply: {
        address: { location: '$message.payload#/reply_to' },
        channel: { $ref: '#/channels/replies' },
        messages: [{ $ref: '#/channels/replies/messages/BridgeReply' }],
      },
    },
  };
  return { messages, channels, operations };
}
