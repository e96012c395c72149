import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/*
 * The programs the tests start as processes of their own (the server, the test servers, the
 * scripts) run compiled, from dist-spawn/, not through ts-node: a compiled server is listening in
 * a fraction of the time. tsconfig.spawn.json lists them; Jest's global setup of the projects that
 * spawn them builds that tree when it is missing or older than a source, so `npm test` stays one
 * command on a fresh clone.
 */

const ROOT = join(__dirname, '..', '..');
const OUT = join(ROOT, 'dist-spawn');
/** Written after a complete build: the tree is as new as this file. */
const STAMP = join(OUT, '.built');
/** What the compiled files read beside them: the Lua scripts and the package's version. */
const ASSETS = ['package.json', ...luaScripts()];
/** Whatever a compiled file can come from. */
const SOURCES = [
  'src',
  'scripts',
  'test/support',
  'package.json',
  'tsconfig.json',
  'tsconfig.spawn.json',
];

/** Whether this process has checked dist-spawn/ against the sources yet. */
let checked = false;

/**
 * The compiled file of a spawned TypeScript entry, e.g. `src/main.ts` →
 * `dist-spawn/src/main.js`, built first (once per process) when dist-spawn/ is missing or older
 * than a source: under Jest its global setup has done it; `npm run bench` relies on this.
 */
export function spawnedEntry(entry: string): string {
  if (!checked) {
    buildSpawned();
    checked = true;
  }
  const compiled = join(OUT, entry.replace(/\.ts$/, '.js'));
  if (!existsSync(compiled)) {
    throw new Error(`${compiled} is missing: add ${entry} to tsconfig.spawn.json`);
  }
  return compiled;
}

/** Jest's global setup: builds dist-spawn/ unless it is newer than every source. */
export default function buildSpawned(): void {
  if (existsSync(STAMP) && newestMtime(SOURCES) <= statSync(STAMP).mtimeMs) return;
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.spawn.json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (build.status !== 0) {
    throw new Error(`tsc -p tsconfig.spawn.json failed:\n${build.stdout}${build.stderr}`);
  }
  for (const asset of ASSETS) {
    mkdirSync(dirname(join(OUT, asset)), { recursive: true });
    copyFileSync(join(ROOT, asset), join(OUT, asset));
  }
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}

/** Every `.lua` file under src/ (each module's scripts sit in its own `lua/` folder). */
function luaScripts(dir = 'src'): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return luaScripts(path);
    return entry.name.endsWith('.lua') ? [path] : [];
  });
}

/** Newest modification time of the files at or under `paths` (relative to the root), in ms. */
function newestMtime(paths: string[]): number {
  let newest = 0;
  const visit = (path: string): void => {
    const stat = statSync(path);
    if (!stat.isDirectory()) {
      newest = Math.max(newest, stat.mtimeMs);
      return;
    }
    for (const name of readdirSync(path)) visit(join(path, name));
  };
  for (const path of paths) visit(join(ROOT, path));
  return newest;
}
