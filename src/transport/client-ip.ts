import * as ipaddr from 'ipaddr.js';
import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { AppConfig } from '../config/app-config';

export type ProxySettings = Pick<AppConfig, 'TRUST_PROXY' | 'TRUSTED_PROXIES'>;

type Trust = (address: string) => boolean;

// Compiled once per distinct TRUSTED_PROXIES value (one per process in practice).
const compiled = new Map<string, Trust>();

function trustOf(settings: ProxySettings): Trust {
  let trust = compiled.get(settings.TRUSTED_PROXIES);
  if (!trust) {
    const ranges = settings.TRUSTED_PROXIES.split(',').map((entry) => entry.trim());
    const check = proxyaddr.compile(ranges);
    trust = (address) => check(address, 0);
    compiled.set(settings.TRUSTED_PROXIES, trust);
  }
  return trust;
}

/**
 * The address a connection is logged and counted under. Proxy headers are client-settable, so
 * they are believed only with TRUST_PROXY and only from a peer in TRUSTED_PROXIES:
 * `Fly-Client-IP` when that peer sent it, otherwise `X-Forwarded-For` read right to left, each
 * trusted hop skipped, the first untrusted address being the client (what a client writes at the
 * left of the header is never reached while a trusted proxy appended the real address after it).
 * IPv4-mapped IPv6 addresses are given as IPv4.
 */
export function clientIp(request: IncomingMessage, settings: ProxySettings): string {
  const peer = normalizeIp(request.socket.remoteAddress);
  if (!settings.TRUST_PROXY || peer === undefined) return peer ?? 'unknown';
  const trust = trustOf(settings);
  if (!trust(peer)) return peer;
  const fly = normalizeIp(headerValue(request.headers['fly-client-ip']));
  if (fly !== undefined) return fly;
  return normalizeIp(proxyaddr(request, trust)) ?? peer;
}

/**
 * The proxy header `clientIp` did not believe because the request's peer is not a trusted proxy
 * while TRUST_PROXY is on (a proxy missing from TRUSTED_PROXIES, or a client going around it);
 * undefined when there is none. Without TRUST_PROXY nothing is expected from a proxy.
 */
export function untrustedProxyHeader(
  request: IncomingMessage,
  settings: ProxySettings,
): 'Fly-Client-IP' | 'X-Forwarded-For' | undefined {
  const peer = normalizeIp(request.socket.remoteAddress);
  if (!settings.TRUST_PROXY || peer === undefined || trustOf(settings)(peer)) return undefined;
  if (request.headers['fly-client-ip'] !== undefined) return 'Fly-Client-IP';
  if (request.headers['x-forwarded-for'] !== undefined) return 'X-Forwarded-For';
  return undefined;
}

/** Whether a TCP peer is a proxy whose headers we believe (so its own address is no client's). */
export function isTrustedProxy(address: string | undefined, settings: ProxySettings): boolean {
  const peer = normalizeIp(address);
  return settings.TRUST_PROXY && peer !== undefined && trustOf(settings)(peer);
}

/**
 * The key per-IP limits count under: the address for IPv4, its /64 for IPv6, since one IPv6
 * subscriber is usually handed a whole /64 and could otherwise rotate through it.
 */
export function ipKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const ip = ipaddr.process(address);
  if (ip.kind() === 'ipv4') return ip.toString();
  const parts = (ip as ipaddr.IPv6).parts.slice(0, 4);
  return `${ipaddr.IPv6.parse(`${parts.map((part) => part.toString(16)).join(':')}::`).toString()}/64`;
}

/** The canonical text of an IP address (IPv4-mapped IPv6 as IPv4), or undefined when not one. */
export function normalizeIp(value: string | undefined): string | undefined {
  if (value === undefined || !ipaddr.isValid(value)) return undefined;
  return ipaddr.process(value).toString();
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first?.trim() || undefined;
}
