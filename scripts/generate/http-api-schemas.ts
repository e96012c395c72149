import type { JsonSchema } from '../../src/protocol/json-schema';
import { ref } from '../../src/protocol/json-schema';
import { RpcCallDto } from '../../src/rpc/dto/rpc-call.dto';
import { MAX_BATCH_CALLS } from '../../src/rpc/rpc-http-api';
import type { Definitions } from './definitions';
import { dtoSchema } from './dto-schema';

/** The bodies of `POST /api/rpc` (answered with RpcReply, or an array of them for a batch). */
export function addHttpApiSchemas(defs: Definitions): void {
  defs.add('HttpRpcCall', {
    description: 'One call of `POST /api/rpc` (answered with RpcReply).',
    ...dtoSchema(RpcCallDto).schema,
  });
  const batch: JsonSchema = {
    type: 'array',
    description: 'A batch of `POST /api/rpc`, run in order (answered with an array of RpcReply).',
    items: ref('HttpRpcCall'),
    minItems: 1,
    maxItems: MAX_BATCH_CALLS,
  };
  defs.add('HttpRpcBatch', batch);
}
