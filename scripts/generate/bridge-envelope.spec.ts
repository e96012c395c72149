import Ajv2020 from 'ajv/dist/2020';
import { parseEntry } from '../../src/bridge/bridge-request';
import { BRIDGE_SCHEMAS } from '../../src/protocol/bridge.schemas';
import { BRIDGE_EXAMPLES } from './examples';

/*
 * The envelope's schema is a table beside the bridge's own parser (src/bridge/bridge-request.ts):
 * both must accept and refuse the same requests.
 */
const ajv = new Ajv2020({ strict: true });
ajv.addSchema({ $defs: BRIDGE_SCHEMAS }, 'bridge');
const matchesSchema = ajv.getSchema('bridge#/$defs/BridgeRequest');
const parserAccepts = (envelope: object): boolean =>
  parseEntry(JSON.stringify(envelope), 1_000_000).ok;

const valid = BRIDGE_EXAMPLES.request[0];

describe('the bridge envelope schema', () => {
  it.each([
    ['the example', valid],
    ['no params', { ...valid, params: undefined }],
    ['no reply_to (fire-and-forget)', { ...valid, reply_to: undefined }],
    ['timeout 0', { ...valid, timeout: 0 }],
    ['timeout 300', { ...valid, timeout: 300 }],
    ['a reply_to of 200 characters', { ...valid, reply_to: 'r'.repeat(200) }],
  ])('accepts %s, as the parser does', (_name, envelope) => {
    expect(matchesSchema?.(JSON.parse(JSON.stringify(envelope)))).toBe(true);
    expect(parserAccepts(envelope)).toBe(true);
  });

  it.each([
    ['another type', { ...valid, type: 'event' }],
    ['a method with a dash', { ...valid, method: 'notification-send' }],
    ['a method of 101 characters', { ...valid, method: 'm'.repeat(101) }],
    ['params that are an array', { ...valid, params: [] }],
    ['no correlation_id', { ...valid, correlation_id: undefined }],
    ['a correlation_id of 201 characters', { ...valid, correlation_id: 'c'.repeat(201) }],
    ['a reply_to of 201 characters', { ...valid, reply_to: 'r'.repeat(201) }],
    ['timeout 301', { ...valid, timeout: 301 }],
    ['a negative timeout', { ...valid, timeout: -1 }],
  ])('refuses %s, as the parser does', (_name, envelope) => {
    expect(matchesSchema?.(JSON.parse(JSON.stringify(envelope)))).toBe(false);
    expect(parserAccepts(envelope)).toBe(false);
  });
});
