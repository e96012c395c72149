import type { IncomingMessage } from 'node:http';
import { loadConfig } from '../config/load-config';
import {
  ProxySettings,
  clientIp,
  ipKey,
  isTrustedProxy,
  normalizeIp,
  untrustedProxyHeader,
} from './client-ip';

const FLY: ProxySettings = { TRUST_PROXY: true, TRUSTED_PROXIES: '127.0.0.0/8,::1,fdaa::/16' };
const OFF: ProxySettings = { ...FLY, TRUST_PROXY: false };

const request = (remoteAddress: string, headers: Record<string, string> = {}) =>
  ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;

describe('clientIp', () => {
  it('uses the socket address without TRUST_PROXY, whatever the headers say', () => {
    const forged = { 'fly-client-ip': '198.51.100.1', 'x-forwarded-for': '198.51.100.2' };
    expect(clientIp(request('203.0.113.5', forged), OFF)).toBe('203.0.113.5');
  });

  it('believes Fly-Client-IP only from a trusted proxy', () => {
    expect(clientIp(request('fdaa:0:1::3', { 'fly-client-ip': '198.51.100.1' }), FLY)).toBe(
      '198.51.100.1',
    );
    expect(clientIp(request('203.0.113.5', { 'fly-client-ip': '198.51.100.1' }), FLY)).toBe(
      '203.0.113.5',
    );
  });

  it('reads X-Forwarded-For right to left, skipping trusted hops', () => {
    const headers = { 'x-forwarded-for': '198.51.100.66, 203.0.113.7, 127.0.0.9' };
    expect(clientIp(request('127.0.0.1', headers), FLY)).toBe('203.0.113.7');
  });

  it('ignores a Fly-Client-IP that is not an address', () => {
    const headers = { 'fly-client-ip': 'not-an-ip', 'x-forwarded-for': '203.0.113.7' };
    expect(clientIp(request('::1', headers), FLY)).toBe('203.0.113.7');
  });

  it('gives IPv4-mapped IPv6 peers as IPv4, and matches them against IPv4 ranges', () => {
    expect(clientIp(request('::ffff:203.0.113.5'), OFF)).toBe('203.0.113.5');
    expect(clientIp(request('::ffff:127.0.0.1', { 'fly-client-ip': '198.51.100.1' }), FLY)).toBe(
      '198.51.100.1',
    );
    expect(isTrustedProxy('::ffff:127.0.0.1', FLY)).toBe(true);
  });

  it('trusts no peer without TRUST_PROXY', () => {
    expect(isTrustedProxy('127.0.0.1', OFF)).toBe(false);
    expect(isTrustedProxy('203.0.113.5', FLY)).toBe(false);
  });
});

describe('on Fly (FLY_APP_NAME set), without configuration', () => {
  const onFly = loadConfig({ FLY_APP_NAME: 'pixide-chat' });
  const client = { 'fly-client-ip': '198.51.100.1' };

  it("counts the client by Fly-Client-IP from Fly's proxy (the machine's private IPv4 link)", () => {
    expect(clientIp(request('172.16.5.98', client), onFly)).toBe('198.51.100.1');
    expect(clientIp(request('::ffff:172.19.0.1', client), onFly)).toBe('198.51.100.1');
    expect(untrustedProxyHeader(request('172.16.5.98', client), onFly)).toBeUndefined();
  });

  it.each([
    ['a machine or WireGuard peer of the organization (6PN)', 'fdaa:0:1:a7b:7d:f066:b83b:2'],
    ['the machine itself', '127.0.0.1'],
    ['an address outside Fly', '203.0.113.5'],
  ])('ignores Fly-Client-IP from %s, counting the peer', (_who, peer) => {
    expect(clientIp(request(peer, client), onFly)).toBe(normalizeIp(peer));
    expect(untrustedProxyHeader(request(peer, client), onFly)).toBe('Fly-Client-IP');
  });
});

describe('untrustedProxyHeader', () => {
  it('names X-Forwarded-For from an untrusted peer, and nothing without a header', () => {
    const forwarded = { 'x-forwarded-for': '198.51.100.2' };
    expect(untrustedProxyHeader(request('203.0.113.5', forwarded), FLY)).toBe('X-Forwarded-For');
    expect(untrustedProxyHeader(request('203.0.113.5'), FLY)).toBeUndefined();
  });

  it('expects nothing from a proxy without TRUST_PROXY', () => {
    expect(
      untrustedProxyHeader(request('203.0.113.5', { 'fly-client-ip': '1.2.3.4' }), OFF),
    ).toBeUndefined();
  });
});

describe('ipKey', () => {
  it.each([
    ['203.0.113.5', '203.0.113.5'],
    ['::ffff:203.0.113.5', '203.0.113.5'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::/64'],
    ['::1', '::/64'],
  ])('counts %s under %s', (address, key) => {
    expect(ipKey(address)).toBe(key);
  });
});
