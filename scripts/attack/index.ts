/* Every `npm run attack` command, by name: one file per surface. */
import { bridgeReadAttacks } from './bridge-read-attacks';
import { authAttacks } from './auth-attacks';
import { costAttacks } from './cost-attacks';
import { Attack } from './harness';
import { bridgeAnswerAttacks } from './bridge-answer-attacks';
import { httpAttacks } from './http-attacks';
import { memoryAttacks } from './memory-attacks';

export const attacks: Record<string, Attack> = {
  ...httpAttacks,
  ...bridgeReadAttacks,
  ...bridgeAnswerAttacks,
  ...authAttacks,
  ...memoryAttacks,
  ...costAttacks,
};
