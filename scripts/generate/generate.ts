import 'reflect-metadata';
import type { ModuleMetadata } from '@nestjs/common';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { asyncApiDocument } from './asyncapi-document';
import { buildContractModel } from './contract-model';
import { readContractSource } from './contract-source';
import { envExample } from './env-example';
import { schemaDocument } from './schema-document';

/** The repository's root, where the generated files are checked in. */
export const REPOSITORY_ROOT = resolve(__dirname, '../..');

/** The generated files, by path from the repository's root. */
export const GENERATED_FILES = ['contract/schema.json', 'contract/asyncapi.yaml', '.env.example'];

export interface GenerateOptions {
  /** Modules composed beside the core ones, whose methods and messages join the contract. */
  imports?: ModuleMetadata['imports'];
}

/** The text of every generated file, by path from the repository's root. */
export async function generateContract(
  options: GenerateOptions = {},
): Promise<Map<string, string>> {
  const model = buildContractModel(await readContractSource(options.imports));
  return new Map([
    ['contract/schema.json', `${JSON.stringify(schemaDocument(model), null, 2)}\n`],
    [
      'contract/asyncapi.yaml',
      stringify(asyncApiDocument(model), { lineWidth: 100, aliasDuplicateObjects: false }),
    ],
    ['.env.example', envExample()],
  ]);
}

/** Writes the files under `root`. */
export async function writeContract(files: Map<string, string>, root: string): Promise<void> {
  for (const [path, text] of files) {
    const target = join(root, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
  }
}

/** `npm run generate [-- --out DIR]`: DIR defaults to the repository's root. */
async function main(argv: readonly string[]): Promise<void> {
  const at = argv.indexOf('--out');
  const root = at >= 0 && argv[at + 1] ? resolve(argv[at + 1]) : REPOSITORY_ROOT;
  const files = await generateContract();
  await writeContract(files, root);
  for (const path of files.keys()) console.log(`wrote ${join(root, path)}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
