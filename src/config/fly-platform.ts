import type { AppConfig } from './app-config';

/**
 * The peers that can only be Fly's proxy. Fly Proxy reaches a machine's services through the
 * machine's private IPv4 interface, a link between the VM and its host, from an address in
 * 172.16.0.0/12 (the machine's own side is in the same range); nothing but the host's proxy is at
 * the other end of that link. Fly's private network (6PN, `fdaa::/16`) is not trusted: every
 * machine of the organization and every WireGuard peer (`fly wireguard`, `fly proxy`) reaches the
 * machine there and could write any Fly-Client-IP. Loopback is not Fly's proxy either.
 */
export const FLY_PROXY_PEERS = '172.16.0.0/12';

/** Whether the process runs on a Fly.io machine (Fly sets FLY_APP_NAME there). */
export function onFly(config: Pick<AppConfig, 'FLY_APP_NAME'>): boolean {
  return config.FLY_APP_NAME !== '';
}

/**
 * On Fly, per-IP limits count each client by Fly-Client-IP without configuration: TRUST_PROXY
 * defaults to true and TRUSTED_PROXIES to FLY_PROXY_PEERS. A value the environment gives wins.
 */
export function applyFlyDefaults(config: AppConfig, given: ReadonlySet<string>): void {
  if (!onFly(config)) return;
  if (!given.has('TRUST_PROXY')) config.TRUST_PROXY = true;
  if (!given.has('TRUSTED_PROXIES')) config.TRUSTED_PROXIES = FLY_PROXY_PEERS;
}
