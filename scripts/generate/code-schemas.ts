import { join } from 'node:path';
import type { JsonSchema } from '../../src/protocol/json-schema';
import { memberDocs } from './doc-comments';

const PROTOCOL = join(__dirname, '../../src/protocol');

/**
 * A string enum's schema with each value's doc comment: `oneOf` of `const`s, which the generated
 * clients show beside each value. `values` are the enum's runtime values by member name.
 */
export function documentedCodes(
  base: JsonSchema,
  file: string,
  container: string,
  values: Readonly<Record<string, string>>,
): JsonSchema {
  const docs = memberDocs(join(PROTOCOL, file), container);
  const { enum: _values, ...rest } = base;
  return {
    ...rest,
    oneOf: Object.entries(values).map(([member, value]) => {
      const description = docs.get(member);
      return description === undefined ? { const: value } : { const: value, description };
    }),
  };
}
