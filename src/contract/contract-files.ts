import { Injectable, NotFoundException } from '@nestjs/common';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The generated contract files the server serves, by name (see `npm run generate`). */
export const CONTRACT_FILES = ['asyncapi.yaml', 'schema.json'] as const;
export type ContractFileName = (typeof CONTRACT_FILES)[number];

/**
 * The `contract/` folder of the repository (or of the image: /app/contract): the nearest one up
 * from this file, which is in `src/contract/` under ts-node and Jest, `dist/contract/` after a
 * build, and `dist-spawn/src/contract/` in the spawned test servers.
 */
export function findContractFolder(from = __dirname): string | undefined {
  for (let folder = from; ; folder = dirname(folder)) {
    const candidate = join(folder, 'contract');
    if (existsSync(join(candidate, CONTRACT_FILES[0]))) return candidate;
    if (dirname(folder) === folder) return undefined;
  }
}

/** The contract files' text, read once; a file that is missing is answered 404. */
@Injectable()
export class ContractFiles {
  private readonly texts = new Map<ContractFileName, string>();
  private readonly folder = findContractFolder();

  text(name: ContractFileName): string {
    const cached = this.texts.get(name);
    if (cached !== undefined) return cached;
    const path = this.folder && join(this.folder, name);
    if (path === undefined || !existsSync(path)) {
      throw new NotFoundException(`contract/${name} is not installed`);
    }
    const text = readFileSync(path, 'utf8');
    this.texts.set(name, text);
    return text;
  }
}
