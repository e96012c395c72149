/*
 * Reproduces the attacks of the "Hold under attacks" issues against a server it starts itself on
 * 127.0.0.1 (`node dist/main.js` of --root), and reports what the server suffered: exit, peak RSS,
 * health and chat probes answered from another client address, log volume. Loopback only (the
 * targets are the server it started); bounded counts and durations; it stops the server (and
 * whatever the attack's setup started) and itself at the end.
 *
 *   npm run attack -- <command> [--root DIR] [--seconds S] [--heap-mb MB] [--server-fds N]
 *                      [command options]
 *
 * `npm run attack` without a command lists the commands (scripts/attack/index.ts). The attacker
 * uses 127.0.0.2, the probes 127.0.0.3 (every 127.0.0.0/8 address is its own client on Linux).
 * Server settings come from the environment, as for `npm start`.
 */
import path from 'node:path';
import {
  MAX_SECONDS,
  MAX_SOCKETS,
  Options,
  startServer,
  stopServer,
  summarizeServer,
} from './attack/harness';
import { attacks } from './attack/index';

function parseArgs(argv: string[]): { command: string; options: Options } | string {
  const [command, ...rest] = argv;
  if (!command || !(command in attacks))
    return `unknown command; one of ${Object.keys(attacks).join(', ')}`;
  const options: Options = {};
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i];
    const value = rest[i + 1];
    if (!key?.startsWith('--') || value === undefined) return `bad option ${key ?? ''}`;
    options[key.slice(2)] = /^\d+$/.test(value) ? Number(value) : value;
  }
  for (const key of [
    'seconds',
    'sockets',
    'requests',
    'extra',
    'concurrency',
    'heap-mb',
    'drip-ms',
  ]) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'number' || value <= 0))
      return `--${key} must be a positive integer`;
  }
  if (Number(options.seconds ?? 0) > MAX_SECONDS) return `--seconds is at most ${MAX_SECONDS}`;
  if (Number(options.sockets ?? 0) > MAX_SOCKETS) return `--sockets is at most ${MAX_SOCKETS}`;
  return { command, options };
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    console.error(
      `${parsed}\nusage: npm run attack -- <command> [--root DIR] [--seconds S] [--heap-mb MB] ...\n` +
        Object.entries(attacks)
          .map(([name, attack]) => `  ${name.padEnd(12)} ${attack.summary}`)
          .join('\n'),
    );
    return 2;
  }
  const { command, options } = parsed;
  const root = path.resolve(String(options.root ?? path.join(__dirname, '..')));
  const attack = attacks[command];
  const setup = (await attack.setup?.(options)) ?? { env: {} };
  const heapMb = options['heap-mb'] === undefined ? undefined : Number(options['heap-mb']);
  const fds = options['server-fds'] === undefined ? undefined : Number(options['server-fds']);
  const server = await startServer(root, heapMb, fds, setup.env);
  // Whatever happens, the run ends: the server and this process stop after the budget.
  const budget = setTimeout(
    () => {
      server.child.kill('SIGKILL');
      process.exit(3);
    },
    (Number(options.seconds ?? 60) + 60) * 1_000,
  );
  budget.unref();
  let figures: object;
  let exit: string;
  let diedDuringAttack: string | null;
  try {
    figures = await attack.run(server, options);
  } finally {
    diedDuringAttack = server.exit ?? null;
    exit = await stopServer(server);
    await setup.cleanup?.();
  }
  const report = {
    command,
    root,
    heapMb: heapMb ?? null,
    ...figures,
    server: { diedDuringAttack, ...summarizeServer(server, exit) },
  };
  console.log(JSON.stringify(report, null, 2));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
