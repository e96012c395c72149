import { withPosition } from '../../src/protocol/chat.protocol';
import { eventFrames } from '../../src/protocol/event.protocol';
import { rpcFrames } from '../../src/protocol/rpc.protocol';
import type { RpcMethodDefinition } from '../../src/rpc/rpc-method';

/** Examples of one method's messages, from the example it declares (none without one). */
export interface MethodExamples {
  call: unknown[];
  response: unknown[];
  event: unknown[];
}

const AT = new Date('2026-12-01T10:00:00.000Z');
const POSITION = { offset: 12, epoch: 'kT2x9QfA' };

export function methodExamples(method: RpcMethodDefinition): MethodExamples {
  const example = method.example;
  if (!example) return { call: [], response: [], event: [] };
  const call = { type: 'rpc', method: method.name, params: example.params, correlation_id: 'c-1' };
  const response = 'result' in example ? [rpcFrames.response('c-1', example.result)] : [];
  const room = method.room?.(example.params);
  const event =
    method.event && room !== undefined
      ? [
          JSON.parse(
            withPosition(eventFrames.event(method.name, room, example.params, AT), POSITION),
          ),
        ]
      : [];
  return { call: [call], response, event };
}
