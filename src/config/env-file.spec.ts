import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withEnvFile } from './env-file';
import { loadConfig } from './load-config';

describe('withEnvFile', () => {
  let folder: string;
  let path: string;

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'env-file-'));
    path = join(folder, '.env');
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it('adds the settings of the file to the environment', () => {
    writeFileSync(path, '# a comment\nPORT=9090\nLOG_LEVEL="debug"\n');
    const { env, fromFile } = withEnvFile({ HOME: '/root' }, path);
    expect(env).toEqual({ HOME: '/root', PORT: '9090', LOG_LEVEL: 'debug' });
    expect(fromFile).toEqual(['LOG_LEVEL', 'PORT']);
    expect(loadConfig(env).PORT).toBe(9090);
  });

  it('lets a variable of the environment win over the file, even an empty one', () => {
    writeFileSync(path, 'PORT=9090\nHOST=127.0.0.1\n');
    const { env, fromFile } = withEnvFile({ PORT: '7070', HOST: '' }, path);
    expect(env).toMatchObject({ PORT: '7070', HOST: '' });
    expect(fromFile).toEqual([]);
  });

  it('leaves the environment as it is without a file', () => {
    const environment = { PORT: '7070' };
    expect(withEnvFile(environment, path)).toEqual({ env: environment, fromFile: [] });
  });

  it('does not change the process environment', () => {
    writeFileSync(path, 'PIXIDE_ENV_FILE_PROBE=1\n');
    withEnvFile({}, path);
    expect(process.env.PIXIDE_ENV_FILE_PROBE).toBeUndefined();
  });

  it('reads the generated .env.example as all defaults', () => {
    const example = join(__dirname, '../../.env.example');
    const { fromFile } = withEnvFile({}, example);
    expect(fromFile).toEqual([]);
  });
});
