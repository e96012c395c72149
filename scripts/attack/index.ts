/* Every `npm run attack` command, by name: one file per surface. */
import { Attack } from './harness';
import { httpAttacks } from './http-attacks';
import { memoryAttacks } from './memory-attacks';

export const attacks: Record<string, Attack> = {
  ...httpAttacks,
  ...memoryAttacks,
};
