import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/** What the server starts with: the environment over `.env`'s settings. */
export interface StartEnvironment {
  env: NodeJS.ProcessEnv;
  /** Names of the variables taken from the file (never their values: some are secrets). */
  fromFile: string[];
}

/**
 * The environment with the settings of the dotenv file at `path` under it: a variable the
 * environment sets (even to "") wins over the file's. No file: the environment as it is. The
 * process's own environment is not changed, so child processes do not inherit the file.
 */
export function withEnvFile(env: NodeJS.ProcessEnv, path: string): StartEnvironment {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { env, fromFile: [] };
    throw error;
  }
  const file = parseEnv(text);
  const fromFile = Object.keys(file)
    .filter((name) => env[name] === undefined)
    .sort();
  return { env: { ...file, ...env }, fromFile };
}
