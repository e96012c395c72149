import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The server's version, sent in the `auth` frame (seed 003's `server_version`): package.json's,
 * read once. `src/` and `dist/` both sit beside package.json, so one relative path serves both.
 */
export const SERVER_VERSION: string = (() => {
  try {
    const raw = readFileSync(join(__dirname, '..', 'package.json'), 'utf8');
    const { version } = JSON.parse(raw) as { version?: unknown };
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
