import { type AppConfig, redisConfigured } from './app-config';
import { KEY_SOURCE_VARIABLES, keySourcesOf } from './jwt-settings';
import { mib } from './load-config';

/**
 * What the start-up log says about access, so whoever starts an instance sees how it is
 * protected: the auth mode (and which key setting verifies tokens) and whether the HTTP API is
 * on. Names settings only, never their values (they are secrets).
 */
export function accessSummary(config: AppConfig): string {
  const [source] = keySourcesOf(config);
  const auth =
    config.AUTH_MODE === 'jwt'
      ? `auth AUTH_MODE=jwt (tokens verified with ${source ? KEY_SOURCE_VARIABLES[source] : 'no key'})`
      : 'auth AUTH_MODE=none (clients say who they are)';
  const api = config.API_KEY
    ? 'HTTP API POST /api/rpc on (API_KEY set)'
    : 'HTTP API off (set API_KEY to turn it on)';
  return `${auth}, ${api}`;
}

/** What the start-up log says about the history's memory: its effective bound and where it is kept. */
export function historySummary(config: AppConfig, heapLimitBytes: number): string {
  if (config.HISTORY_SIZE === 0) return 'history off (HISTORY_SIZE=0)';
  if (redisConfigured(config)) {
    return (
      `history in Redis: ${config.HISTORY_SIZE} publications and ` +
      `${Math.round(config.HISTORY_ROOM_MAX_BYTES / 1024)} KiB per room (HISTORY_ROOM_MAX_BYTES)`
    );
  }
  return (
    `history in memory: ${mib(config.HISTORY_MAX_BYTES)} MiB at most (HISTORY_MAX_BYTES) of a ` +
    `${mib(heapLimitBytes)} MiB heap`
  );
}
