import type { JsonSchema } from '../../src/protocol/json-schema';

/** The named definitions of the contract, in the order they were added; a name is given once. */
export class Definitions {
  private readonly schemas = new Map<string, JsonSchema>();

  add(name: string, schema: JsonSchema): string {
    if (this.schemas.has(name)) {
      throw new Error(`two definitions of the contract are named ${name}: rename one`);
    }
    this.schemas.set(name, schema);
    return name;
  }

  has(name: string): boolean {
    return this.schemas.has(name);
  }

  get(name: string): JsonSchema {
    const schema = this.schemas.get(name);
    if (!schema) throw new Error(`no definition named ${name}`);
    return schema;
  }

  toObject(): Record<string, JsonSchema> {
    return Object.fromEntries(this.schemas);
  }
}
