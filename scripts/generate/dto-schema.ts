import { defaultMetadataStorage } from 'class-transformer/cjs/storage';
import { ValidationTypes, getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import { targetConstructorToSchema } from 'class-validator-jsonschema';
import { defaultConverters } from 'class-validator-jsonschema/build/defaultConverters';
import type { JsonSchema } from '../../src/protocol/json-schema';
import { CUSTOM_VALIDATOR_SCHEMAS } from './validator-schemas';

export type Dto = abstract new (...args: never[]) => object;

/** A DTO's schema and the nested DTOs it refers to by name (`#/$defs/<class name>`). */
export interface DtoSchema {
  schema: JsonSchema;
  nested: Map<string, Dto>;
}

const MIN = 'min';
const MAX = 'max';

/**
 * The JSON Schema of a class-validator DTO, by class-validator-jsonschema, with what it lacks:
 * our own validators (ValidateBy) by name, `@Min`/`@Max` that keep `@IsInt`'s integer type, a
 * field marked only `@Allow()` optional, and an empty DTO an object. A validator without a
 * schema fails the generation rather than leave a field undescribed.
 */
export function dtoSchema(dto: Dto): DtoSchema {
  const metadatas = metadataOf(dto);
  for (const meta of metadatas) checkDescribed(dto, meta);
  const generated = targetConstructorToSchema(dto, {
    classTransformerMetadataStorage: defaultMetadataStorage,
    refPointerPrefix: '#/$defs/',
    additionalConverters: {
      ...converters(),
      [MIN]: (meta: ValidationMetadata) => ({ minimum: meta.constraints[0] as number }),
      [MAX]: (meta: ValidationMetadata) => ({ maximum: meta.constraints[0] as number }),
    },
  }) as JsonSchema;
  const schema: JsonSchema = {
    type: 'object',
    properties: generated.properties ?? {},
    ...requiredOf(generated, metadatas),
  };
  return { schema, nested: nestedOf(dto, metadatas) };
}

function metadataOf(dto: Dto): ValidationMetadata[] {
  return getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
}

function constraintName(meta: ValidationMetadata): string | undefined {
  if (meta.type !== ValidationTypes.CUSTOM_VALIDATION) return undefined;
  return getMetadataStorage().getTargetValidatorConstraints(meta.constraintCls)[0]?.name;
}

function checkDescribed(dto: Dto, meta: ValidationMetadata): void {
  const name = constraintName(meta);
  if (name !== undefined && !(name in CUSTOM_VALIDATOR_SCHEMAS) && !(name in defaultConverters)) {
    throw new Error(
      `${dto.name}.${meta.propertyName}: the validator ${name} has no schema in ` +
        'scripts/generate/validator-schemas.ts',
    );
  }
}

function converters(): Record<string, () => JsonSchema> {
  return Object.fromEntries(
    Object.entries(CUSTOM_VALIDATOR_SCHEMAS).map(([name, schema]) => [name, () => schema]),
  );
}

/** `@Allow()` alone lets a field be absent: it is not required. */
function requiredOf(generated: JsonSchema, metadatas: ValidationMetadata[]): JsonSchema {
  const allowedOnly = (field: string): boolean =>
    metadatas
      .filter((meta) => meta.propertyName === field)
      .every((meta) => meta.type === ValidationTypes.WHITELIST);
  const required = (generated.required ?? []).filter((field) => !allowedOnly(field));
  return required.length > 0 ? { required } : {};
}

/** The DTOs of `@ValidateNested()` fields, by the name their `$ref` gives them. */
function nestedOf(dto: Dto, metadatas: ValidationMetadata[]): Map<string, Dto> {
  const nested = new Map<string, Dto>();
  for (const meta of metadatas) {
    if (meta.type !== ValidationTypes.NESTED_VALIDATION) continue;
    const type = defaultMetadataStorage.findTypeMetadata(dto, meta.propertyName);
    const child = type?.typeFunction() as Dto | undefined;
    if (child) nested.set(child.name, child);
  }
  return nested;
}
