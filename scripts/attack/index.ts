/* Every `npm run attack` command, by name: one file per surface. */
import { costAttacks } from './cost-attacks';
import { Attack } from './harness';
import { httpAttacks } from './http-attacks';

export const attacks: Record<string, Attack> = {
  ...httpAttacks,
  ...costAttacks,
};
