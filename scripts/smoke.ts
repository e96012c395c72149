import { healthUrlOf } from './lib/frames';
import { runSmoke } from './smoke-checks';

const USAGE = `Usage: npm run smoke -- <ws://host:port | wss://host> [--timeout MS] [--token JWT]

Checks a running PixIDE chat server: health, join, chat, switch, leave and every error code.
  --timeout MS   longest wait for one step (default 5000)
  --token JWT    for AUTH_MODE=jwt (or TOKEN in the environment): checks authentication as the
                 token's user instead of the checks that need several users
Exit status: 0 when every check passed, 1 when one failed, 2 on bad arguments.`;

interface Args {
  url: string;
  stepTimeoutMs?: number;
  token?: string;
}

/** The arguments, or the reason they are wrong. */
function parseArgs(argv: string[]): Args | string {
  const positional: string[] = [];
  let stepTimeoutMs: number | undefined;
  let token = process.env.TOKEN || undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--token') {
      token = argv[++i];
      if (!token) return '--token needs a value';
    } else if (arg === '--timeout') {
      stepTimeoutMs = Number(argv[++i]);
      if (!Number.isInteger(stepTimeoutMs) || stepTimeoutMs <= 0) {
        return '--timeout needs a positive number of milliseconds';
      }
    } else if (arg.startsWith('-')) {
      return `unknown option ${arg}`;
    } else {
      positional.push(arg);
    }
  }
  if (positional.length !== 1) return 'give exactly one server URL';
  const url = positional[0];
  try {
    healthUrlOf(url);
  } catch {
    return `not a ws:// or wss:// URL: ${url}`;
  }
  return { url, stepTimeoutMs, token };
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    console.error(`smoke: ${args}\n\n${USAGE}`);
    return 2;
  }
  const stepTimeoutMs = args.stepTimeoutMs;
  const result = await runSmoke(args.url, (line) => console.log(line), {
    stepTimeoutMs,
    token: args.token,
    // Generous for a slow link, but bounded: a smoke test must never hang a deploy pipeline.
    overallTimeoutMs: Math.max(60_000, 15 * (stepTimeoutMs ?? 0)),
  });
  return result.failed === 0 && result.skipped === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
