import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { AppConfig } from '../src/config/app-config';
import { spawnServer } from './support/server-process';
import { RunningApp, startApp } from './support/test-app';

const root = join(__dirname, '..');
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

interface FlyToml {
  kill_signal: string;
  kill_timeout: number;
  env: Record<string, string>;
  http_service: {
    internal_port: number;
    concurrency: { type: string };
    checks: { method: string; path: string }[];
  };
}

describe('deployment files agree with the app', () => {
  const defaults = new AppConfig();
  const fly = parse(read('fly.toml')) as unknown as FlyToml;
  const dockerfile = read('Dockerfile');
  const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp();
  });

  afterAll(async () => {
    await server.close();
  });

  it('fly.toml sends traffic to the port the app listens on', () => {
    expect(fly.http_service.internal_port).toBe(defaults.PORT);
    expect(Number(fly.env.PORT ?? defaults.PORT)).toBe(fly.http_service.internal_port);
  });

  it('fly.toml health checks GET a path the app answers with 200', async () => {
    expect(fly.http_service.checks.length).toBeGreaterThan(0);
    for (const check of fly.http_service.checks) {
      expect(check.method).toBe('GET');
      const response = await fetch(`${server.httpUrl}${check.path}`);
      expect(response.status).toBe(200);
    }
  });

  it('fly.toml stops with SIGTERM and waits longer than the drain takes', () => {
    expect(fly.kill_signal).toBe('SIGTERM');
    const drainMs = Number(fly.env.SHUTDOWN_TIMEOUT_MS ?? defaults.SHUTDOWN_TIMEOUT_MS);
    expect(fly.kill_timeout * 1000).toBeGreaterThan(drainMs);
  });

  it('fly.toml counts concurrency in connections', () => {
    expect(fly.http_service.concurrency.type).toBe('connections');
  });

  it('the Dockerfile exposes the app port and health-checks a path the app answers', async () => {
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${defaults.PORT}$`, 'm'));
    expect(dockerfile).toMatch(new RegExp(`^\\s+PORT=${defaults.PORT}`, 'm'));
    const healthcheck =
      /^HEALTHCHECK[\s\S]*?127\.0\.0\.1:' \+ \(process\.env\.PORT \|\| (\d+)\) \+ '([^']*)'/m.exec(
        dockerfile,
      );
    expect(healthcheck).not.toBeNull();
    expect(Number(healthcheck?.[1])).toBe(defaults.PORT);
    const response = await fetch(`${server.httpUrl}${healthcheck?.[2]}`);
    expect(response.status).toBe(200);
  });

  it("the README's Fly steps deploy one machine first: without Redis, machines share no rooms", () => {
    const readme = read('README.md');
    const section = readme.slice(
      readme.indexOf('## Deploying to Fly.io'),
      readme.indexOf('### Several machines on one Redis'),
    );
    const deploys = section.split('\n').filter((line) => /^fly deploy\b/.test(line));
    expect(deploys.length).toBeGreaterThan(0);
    for (const line of deploys) expect(line).toMatch(/\s--ha=false\b/);
    expect(fly.env.REDIS_URL).toBeUndefined();
  });

  it('fly.toml deploys with AUTH_MODE=jwt and leaves the proxy settings to the Fly defaults', () => {
    expect(fly.env.AUTH_MODE).toBe('jwt');
    expect(fly.env.TRUST_PROXY).toBeUndefined();
    expect(fly.env.TRUSTED_PROXIES).toBeUndefined();
    // fly.toml's env holds no key: keys are secrets, set before the first deploy.
    for (const key of ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL', 'API_KEY']) {
      expect(fly.env[key]).toBeUndefined();
    }
  });

  it("the README's Fly steps set the secrets before the first deploy", () => {
    const readme = read('README.md');
    const section = readme.slice(
      readme.indexOf('## Deploying to Fly.io'),
      readme.indexOf('### Several machines on one Redis'),
    );
    const lines = section.split('\n');
    const secrets = lines.findIndex((line) => /^fly secrets set\b/.test(line));
    const firstDeploy = lines.findIndex((line) => /^fly deploy\b/.test(line));
    expect(secrets).toBeGreaterThanOrEqual(0);
    expect(secrets).toBeLessThan(firstDeploy);
    let end = secrets;
    while (lines[end]?.endsWith('\\')) end += 1;
    const command = lines.slice(secrets, end + 1).join('\n');
    for (const key of ['JWT_SECRET=', 'API_KEY=', 'ALLOWED_ORIGINS='])
      expect(command).toContain(key);
  });

  it('a start on Fly with AUTH_MODE=jwt and no key stops, naming the key settings and the command', async () => {
    const server = spawnServer({ FLY_APP_NAME: 'pixide-chat', AUTH_MODE: 'jwt' });
    const { code } = await server.exited;
    expect(code).not.toBe(0);
    const output = server.output();
    expect(output).toContain(
      'AUTH_MODE=jwt needs exactly one of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL (none is set)',
    );
    expect(output).toContain('fly secrets set JWT_SECRET=');
    expect(output).not.toContain('listening on');
  });

  it('the Dockerfile runs the production build as a non-root user, stopped by SIGTERM', () => {
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
    expect(packageJson.scripts['start:prod']).toBe('node dist/main.js');
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
  });
});
