import { DiagnosticSeverity, Parser, fromFile } from '@asyncapi/parser';
import { CLOSE_CODE_TABLE } from '../../src/protocol/close-codes';
import { ErrorCode } from '../../src/protocol/error-code';
import { RpcErrorCode } from '../../src/protocol/rpc.protocol';
import { REPOSITORY_ROOT } from './generate';
import { contractPath, readAsyncApi, readJson, schemaValidators } from './read-contract';

const ASYNCAPI = contractPath(REPOSITORY_ROOT, 'asyncapi.yaml');
const SCHEMA = contractPath(REPOSITORY_ROOT, 'schema.json');

describe('the checked-in contract', () => {
  it('is an AsyncAPI 3.0.0 document that @asyncapi/parser reads without an error', async () => {
    const { document, diagnostics } = await fromFile(new Parser(), ASYNCAPI).parse();
    const errors = diagnostics.filter(
      (diagnostic) => Number(diagnostic.severity) === Number(DiagnosticSeverity.Error),
    );
    expect(errors.map((error) => `${error.message} at ${error.path.join('.')}`)).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
    expect(document?.allMessages().length).toBeGreaterThan(20);
  }, 60_000);

  it('gives every message an example, and every example validates against its payload schema', () => {
    const validator = schemaValidators(readJson(SCHEMA));
    const messages = Object.entries(readAsyncApi(ASYNCAPI).components.messages);
    const failures: string[] = [];
    let checked = 0;
    for (const [name, message] of messages) {
      const ref = message.payload.$ref;
      if (ref === undefined) throw new Error(`${name} has no payload reference`);
      const validate = validator(ref);
      for (const example of message.examples ?? []) {
        checked += 1;
        if (!validate(example.payload))
          failures.push(`${example.name}: ${JSON.stringify(validate.errors)}`);
      }
    }
    expect(failures).toEqual([]);
    const withoutExample = messages.filter(([, message]) => !message.examples?.length);
    expect(withoutExample.map(([name]) => name)).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(messages.length);
  });

  it('names a definition for the error codes and close codes, each value described', () => {
    const defs = readJson(SCHEMA).$defs as Record<string, { oneOf?: { const: unknown }[] }>;
    const described = (name: string) =>
      (defs[name].oneOf ?? [])
        .filter((entry) => 'description' in entry)
        .map((entry) => entry.const);
    expect(described('ErrorCode')).toEqual(Object.values(ErrorCode));
    expect(described('RpcErrorCode')).toEqual(Object.values(RpcErrorCode));
    expect(new Set(described('CloseCode'))).toEqual(
      new Set(CLOSE_CODE_TABLE.map((row) => row.code)),
    );
  });
});
