import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

/** Newest modification time of the files under `dir`, in milliseconds. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs;
    newest = Math.max(newest, mtime);
  }
  return newest;
}

/**
 * Builds the product with `nest build` when dist/main.js is missing or older than a file under
 * src/, so the figures are those of the code in the working tree. Returns false when the build
 * fails.
 */
export function ensureProductBuilt(root: string, entry: string): boolean {
  const stale = !existsSync(entry) || newestMtime(path.join(root, 'src')) > statSync(entry).mtimeMs;
  if (!stale) return true;
  console.log('bench: dist/ is missing or older than src/; running nest build');
  const nest = path.join(root, 'node_modules', '.bin', 'nest');
  const build = spawnSync(nest, ['build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  return build.status === 0 && existsSync(entry);
}
