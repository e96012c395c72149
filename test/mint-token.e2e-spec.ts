import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { TokenVerifier } from '../src/auth/token-verifier';
import { AppConfig, CONFIG_KEYS } from '../src/config/app-config';
import { configWith } from '../src/config/load-config';
import { mintToken, parseMintArgs } from '../scripts/lib/mint';
import { TEST_SECRET } from './support/jwt-fixtures';
import { spawnedEntry } from './support/spawned-build';

const ROOT = join(__dirname, '..');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `scripts/mint-token.ts` (compiled) as `npm run token` would, with only the given settings. */
function runMint(args: string[], settings: Record<string, string>): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of CONFIG_KEYS) delete env[key];
  Object.assign(env, settings);
  const child = spawn(process.execPath, [spawnedEntry('scripts/mint-token.ts'), ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const verifierFor = (overrides: Partial<AppConfig> = {}): TokenVerifier =>
  new TokenVerifier(configWith({ AUTH_MODE: 'jwt', JWT_SECRET: TEST_SECRET, ...overrides }));

describe('npm run token', () => {
  it('prints a token the server verifies, with the rooms and the lifetime asked for', async () => {
    const result = await runMint(['--sub', 'alice', '--rooms', 'team:*', '--ttl', '1h'], {
      JWT_SECRET: TEST_SECRET,
    });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const principal = await verifierFor().verify(result.stdout.trim());
    expect(principal.userId).toBe('alice');
    expect(principal.claims.rooms).toEqual(['team:*']);
    expect(principal.expiresAt! - Date.now()).toBeGreaterThan(3_500_000);
    expect(principal.expiresAt! - Date.now()).toBeLessThanOrEqual(3_600_000);
  });

  it("signs with JWT_ALGORITHMS' HMAC algorithm and JWT_ISSUER / JWT_AUDIENCE", async () => {
    const settings = { JWT_ALGORITHMS: 'HS512', JWT_ISSUER: 'pixide-dev', JWT_AUDIENCE: 'chat' };
    const result = await runMint(['--user-id', 'bob', '--publish', 'events:*'], {
      JWT_SECRET: TEST_SECRET,
      ...settings,
    });
    expect(result.code).toBe(0);
    const token = result.stdout.trim();
    expect(decodeProtectedHeader(token).alg).toBe('HS512');
    const principal = await verifierFor(settings).verify(token);
    expect(principal).toMatchObject({
      userId: 'bob',
      claims: { user_id: 'bob', publish: ['events:*'] },
    });
  });

  it('fails without JWT_SECRET, saying so', async () => {
    const result = await runMint(['--sub', 'alice'], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('JWT_SECRET is not set');
    expect(result.stdout).toBe('');
  });

  it('fails on a short JWT_SECRET without printing it', async () => {
    const result = await runMint(['--sub', 'alice'], { JWT_SECRET: 'short-secret-value' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('JWT_SECRET must be at least 32 bytes');
    expect(result.stderr).not.toContain('short-secret-value');
  });

  it('refuses bad arguments with the usage', async () => {
    const result = await runMint(['--sub', 'not valid'], { JWT_SECRET: TEST_SECRET });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Usage: ');
  });
});

describe('parseMintArgs and mintToken', () => {
  it.each([
    [[], 'give exactly one of --sub and --user-id'],
    [['--sub', 'a', '--user-id', 'b'], 'give exactly one of --sub and --user-id'],
    [['--sub'], '--sub needs a value'],
    [['--sub', 'a', '--role', 'admin'], 'unknown argument --role'],
    [['--sub', 'a b'], 'the user must be'],
    [['--sub', 'a', '--ttl', 'forever'], '--ttl must be like'],
    [['--sub', 'a', '--rooms', 'team:*,bad room'], '--rooms: "bad room" must be'],
  ])('refuses %j', (argv, reason) => {
    expect(parseMintArgs(argv)).toEqual(expect.stringContaining(reason));
  });

  it('adds up repeated and comma-separated patterns', () => {
    expect(parseMintArgs(['--sub', 'a', '--rooms', 'x,y', '--rooms', ' z '])).toMatchObject({
      rooms: ['x', 'y', 'z'],
    });
  });

  it.each([
    ['90', 90],
    ['90s', 90],
    ['30m', 1800],
    ['2d', 172_800],
  ])('reads --ttl %s as %i seconds', async (ttl, seconds) => {
    const options = parseMintArgs(['--sub', 'a', '--ttl', ttl]);
    if (typeof options === 'string') throw new Error(options);
    const config = configWith({ JWT_SECRET: TEST_SECRET, JWT_MAX_LIFETIME_S: 172_800 });
    const principal = await verifierFor({ JWT_MAX_LIFETIME_S: 172_800 }).verify(
      await mintToken(options, config),
    );
    const { iat } = principal.claims as { iat: number };
    expect(principal.expiresAt! / 1000 - iat).toBe(seconds);
  });

  it('refuses a --ttl the server would refuse: longer than JWT_MAX_LIFETIME_S', async () => {
    const options = parseMintArgs(['--sub', 'a', '--ttl', '25h']);
    if (typeof options === 'string') throw new Error(options);
    await expect(mintToken(options, configWith({ JWT_SECRET: TEST_SECRET }))).rejects.toThrow(
      '--ttl 25h is longer than JWT_MAX_LIFETIME_S (86400 s)',
    );
  });

  it('lets --aud and --iss override the configured ones', async () => {
    const options = parseMintArgs(['--sub', 'a', '--aud', 'other', '--iss', 'elsewhere']);
    if (typeof options === 'string') throw new Error(options);
    const config = configWith({ JWT_SECRET: TEST_SECRET, JWT_AUDIENCE: 'chat' });
    const token = await mintToken(options, config);
    const principal = await verifierFor({ JWT_AUDIENCE: 'other', JWT_ISSUER: 'elsewhere' }).verify(
      token,
    );
    expect(principal.claims).toMatchObject({ aud: 'other', iss: 'elsewhere' });
  });
});
