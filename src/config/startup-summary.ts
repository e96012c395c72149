import type { AppConfig } from './app-config';
import { KEY_SOURCE_VARIABLES, keySourcesOf } from './jwt-settings';

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
