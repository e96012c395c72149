import { loadConfig } from '../src/config/load-config';
import { MINT_USAGE, mintToken, parseMintArgs } from './lib/mint';

/** `npm run token -- --sub alice --rooms 'team:*' --ttl 1h`: prints a development token. */
async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(MINT_USAGE);
    return 0;
  }
  const options = parseMintArgs(argv);
  if (typeof options === 'string') {
    console.error(`${options}\n\n${MINT_USAGE}`);
    return 2;
  }
  try {
    console.log(await mintToken(options, loadConfig(process.env)));
    return 0;
  } catch (error) {
    // ConfigError and our own messages never quote the secret.
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => process.exit(code));
