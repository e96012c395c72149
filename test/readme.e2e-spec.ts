import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLOSE_CODE_TABLE } from '../src/protocol/close-codes';
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

  it('keeps the two set-up commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
