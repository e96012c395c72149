import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { CLOSE_CODE_TABLE, CloseCode, RECONNECT_RANGE } from '../src/protocol/close-codes';
import { ErrorCode } from '../src/protocol/error-code';
import { RpcErrorCode } from '../src/protocol/rpc.protocol';
import { AppConfig, CONFIG_KEYS } from '../src/config/app-config';

// Prettier pads table cells; compare with runs of spaces collapsed.
const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8').replace(/ {2,}/g, ' ');

describe('README', () => {
  it.each(CLOSE_CODE_TABLE.map((row) => [row.code, row]))(
    'lists close code %i as the code does',
    (_code, row) => {
      expect(readme).toContain(`| ${row.code} | ${row.when} | ${row.reconnect} |`);
    },
  );

  it('has the close-code table of the code, row for row and nothing else', () => {
    expect(closeCodeRows()).toEqual(
      CLOSE_CODE_TABLE.map((row) => `| ${row.code} | ${row.when} | ${row.reconnect} |`),
    );
  });

  it('gives every application close code the reconnect rule of its range, with no exception', () => {
    const application = CLOSE_CODE_TABLE.filter((row) => row.code >= 4000 && row.code <= 4999);
    for (const row of application) {
      const inReconnectRange = row.code >= RECONNECT_RANGE.from && row.code <= RECONNECT_RANGE.to;
      expect([row.code, row.reconnect]).toEqual([row.code, inReconnectRange ? 'yes' : 'no']);
    }
  });

  it('lists every close code the server can send', () => {
    const listed = new Set(CLOSE_CODE_TABLE.map((row) => row.code));
    const sent = [...closeCodesSentBySource(), ...Object.values(CloseCode), ...CLOSED_BY_WS];
    expect(sent.filter((code) => !listed.has(code))).toEqual([]);
  });

  it.each(CONFIG_KEYS.map((key) => [key]))('documents %s with its default', (key) => {
    const value = new AppConfig()[key];
    const shown = value === '' ? '(empty)' : `\`${String(value)}\``;
    expect(readme).toContain(`| \`${key}\` | ${shown} |`);
  });

  it.each(Object.values(ErrorCode).map((code) => [code]))('documents error code %s', (code) => {
    expect(readme).toContain(`| \`${code}\` |`);
  });

  it.each(Object.values(RpcErrorCode).map((code) => [code]))(
    'documents RPC error code %s in the RPC section',
    (code) => {
      const rpcSection = readme.slice(
        readme.indexOf('\n## RPC\n'),
        readme.indexOf('\n## Configuration\n'),
      );
      expect(rpcSection).toContain(`| \`${code}\` |`);
    },
  );

  it('runs npm silently wherever its output is captured with $(…), so npm’s banner is not captured', () => {
    const captured = [...readme.matchAll(/\$\(\s*npm (?:run|start|test)\b[^)]*\)/g)].map(
      (m) => m[0],
    );
    expect(captured.length).toBeGreaterThan(0);
    for (const command of captured) expect(command).toMatch(/^\$\(\s*npm run -s /);
  });

  it('captures exactly a token with the README’s TOKEN=$(npm run -s token …) line', async () => {
    const line = /^export (TOKEN=\$\(npm run -s token -- [^)]*\))$/m.exec(readme)?.[1];
    expect(line).toBeDefined();
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of CONFIG_KEYS) delete env[key];
    env.JWT_SECRET = 'x'.repeat(32);
    const { stdout: output } = await promisify(execFile)(
      'bash',
      ['-c', `${line}; printf '%s' "$TOKEN"`],
      { cwd: join(__dirname, '..'), env, timeout: 60_000 },
    );
    expect(output).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  }, 70_000);

  it('opens with a table of contents that links every section', () => {
    const raw = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const contents = raw.slice(raw.indexOf('\n## Contents\n'), raw.indexOf('\n## Quick starts\n'));
    const sections = [...raw.matchAll(/^## (.+)$/gm)]
      .map((m) => m[1])
      .filter((t) => t !== 'Contents');
    for (const title of sections) {
      expect(contents).toContain(`[${title}](#${anchorOf(title)})`);
    }
  });

  it('has three quick starts at the top: a browser client, a Django backend, an operator', () => {
    const raw = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const quick = raw.slice(raw.indexOf('\n## Quick starts\n'), raw.indexOf('\n## Set-up\n'));
    expect(raw.indexOf('\n## Quick starts\n')).toBeLessThan(raw.indexOf('\n## Set-up\n'));
    for (const who of ['**Browser client.**', '**Django backend.**', '**Operator.**']) {
      expect(quick).toContain(who);
    }
  });

  it('says what seed 003 is before it first names it', () => {
    const first = readme.search(/seed 003/i);
    expect(readme.slice(first, first + 60)).toMatch(
      /^"?Seed 003"? in this README is the reference project/i,
    );
  });

  it('keeps the two set-up commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});

/** Codes `ws` closes with by itself (a bad frame, bad UTF-8, a frame too big) or a lost network. */
const CLOSED_BY_WS = [1002, 1007, 1009, 1006];

/** The rows of the README's "Close codes" table, spaces collapsed like `readme`. */
function closeCodeRows(): string[] {
  const start = readme.indexOf('\n### Close codes\n');
  const section = readme.slice(start, readme.indexOf('\n#', start + 1));
  return section.split('\n').filter((line) => /^\| \d{4} \|/.test(line));
}

/**
 * The close codes the server's source sends: every `CloseCode.X` it names and every number
 * literal given to a `close`/`evict` call. Session's `close` and `evict` take a CloseCode (checked
 * here too), so a code reaches a socket only through a member of CloseCode.
 */
function closeCodesSentBySource(): number[] {
  const root = join(__dirname, '..', 'src');
  const codes: number[] = [];
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, 'utf8');
    for (const [, name] of text.matchAll(/\bCloseCode\.(\w+)/g)) {
      const code = (CloseCode as Record<string, number | undefined>)[name];
      if (code === undefined) throw new Error(`${file}: CloseCode.${name} is not a close code`);
      codes.push(code);
    }
    for (const [, code] of text.matchAll(/\.(?:close|evict)\(\s*(\d+)/g)) codes.push(Number(code));
  }
  const session = readFileSync(join(root, 'transport', 'session.ts'), 'utf8');
  expect(session).toMatch(/\n {2}evict\(code: CloseCode, /);
  expect(session).toMatch(/\n {2}close\(code: CloseCode, /);
  return codes;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\w\s-]/g, '')
    .replace(/\s/g, '-');
}
