import type { IncomingMessage } from 'node:http';
import { ProxySettings, clientIp, ipKey, isTrustedProxy } from './client-ip';

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
