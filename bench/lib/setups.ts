import type { ServerKind } from './ipc';

/**
 * What one run measures, by name (the name is what the results file records per run): one
 * server process, or two product instances sharing a redis-server the harness starts (the
 * clients split between them), each with the product settings the comparison is about.
 */
export type Setup =
  | ServerKind
  | 'cluster'
  | 'history-on'
  | 'history-off'
  | 'cluster-history-on'
  | 'cluster-history-off';

export interface SetupDef {
  kind: ServerKind;
  /** Two product instances on a redis-server of their own instead of one process. */
  redis: boolean;
  /** Product settings on top of the bench's (bench/run.ts PRODUCT_ENV). */
  env: Readonly<Record<string, string>>;
}

/**
 * HISTORY_SIZE of the history-on setups: AppConfig's default, spelled out so that the pair
 * measures history on against off even if the default or the bench's settings change.
 */
export const HISTORY_ON_SIZE = 100;
const HISTORY_ON = { HISTORY_SIZE: String(HISTORY_ON_SIZE) };
const HISTORY_OFF = { HISTORY_SIZE: '0' };

export const SETUPS: Readonly<Record<Setup, SetupDef>> = {
  product: { kind: 'product', redis: false, env: {} },
  reference: { kind: 'reference', redis: false, env: {} },
  cluster: { kind: 'product', redis: true, env: {} },
  'history-on': { kind: 'product', redis: false, env: HISTORY_ON },
  'history-off': { kind: 'product', redis: false, env: HISTORY_OFF },
  'cluster-history-on': { kind: 'product', redis: true, env: HISTORY_ON },
  'cluster-history-off': { kind: 'product', redis: true, env: HISTORY_OFF },
};
