import { BlockList, isIP } from 'node:net';
import { AppConfig } from '../config/app-config';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/**
 * The warning to log at start when anyone who can reach the server may claim any user: AUTH_MODE
 * is `none` and HOST is not a loopback address. Undefined when there is nothing to warn about.
 */
export function openAccessWarning(config: AppConfig): string | undefined {
  if (config.AUTH_MODE !== 'none' || isLoopbackHost(config.HOST)) return undefined;
  return (
    `AUTH_MODE=none on HOST=${config.HOST}: any client that reaches this server can claim any ` +
    `userId and enter any room; set AUTH_MODE=jwt in production`
  );
}

/** `localhost`, 127.0.0.0/8, `::1` and IPv4-mapped 127.x; `0.0.0.0` and `::` listen everywhere. */
export function isLoopbackHost(host: string): boolean {
  const name = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const family = isIP(name);
  if (family === 0) return false;
  return LOOPBACK.check(name, family === 4 ? 'ipv4' : 'ipv6');
}
