import { objectSchema } from './json-schema';

interface Sample {
  name: string;
  count?: number;
}

describe('objectSchema', () => {
  it('lists every field as a property and the fields that may not be absent as required', () => {
    const schema = objectSchema<Sample>('A sample.', {
      name: { type: 'string' },
      count: { type: 'integer', optional: true },
    });
    expect(schema).toEqual({
      type: 'object',
      description: 'A sample.',
      properties: { name: { type: 'string' }, count: { type: 'integer' } },
      required: ['name'],
    });
  });

  it('is a table the compiler holds to its interface (`npm run typecheck` checks these lines)', () => {
    // @ts-expect-error a field of the interface is missing
    objectSchema<Sample>('', { name: { type: 'string' } });
    // @ts-expect-error a field the interface does not have
    objectSchema<Sample>('', { name: {}, count: { optional: true }, extra: {} });
    // @ts-expect-error an optional field described as required
    objectSchema<Sample>('', { name: {}, count: {} });
    // @ts-expect-error a required field described as optional
    objectSchema<Sample>('', { name: { optional: true }, count: { optional: true } });
    expect(true).toBe(true);
  });
});
