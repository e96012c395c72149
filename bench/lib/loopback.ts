import { isIPv4 } from 'node:net';

/** True for 127.0.0.0/8, localhost and ::1: the only hosts the benchmark will load. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host === '::1') return true;
  return isIPv4(host) && host.startsWith('127.');
}

export function assertLoopbackHost(hostname: string): void {
  if (!isLoopbackHost(hostname)) {
    throw new Error(`refusing to load ${hostname}: the benchmark targets loopback only`);
  }
}
