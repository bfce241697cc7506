import { describe, expect, it } from 'vitest';
import { ClientAddresses, normalizeAddress, parseCidr } from './client-address.js';

const cidrs = (...items: string[]) => items.map((i) => parseCidr(i)!);

describe('parseCidr', () => {
  it('reads addresses and CIDRs of both families', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('192.168.1.7')).toEqual({ address: '192.168.1.7', prefix: 32, family: 'ipv4' });
    expect(parseCidr('fd00::/8')).toEqual({ address: 'fd00::', prefix: 8, family: 'ipv6' });
  });
  it('refuses what is not one', () => {
    for (const bad of ['', 'proxy.local', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/8/8', '::1/129', '1.2.3.4/x']) expect(parseCidr(bad), bad).toBeNull();
  });
});

describe('ClientAddresses', () => {
  it('ignores X-Forwarded-For from peers that are not trusted proxies', () => {
    const none = new ClientAddresses([]);
    expect(none.resolve('198.51.100.1', '6.6.6.6')).toBe('198.51.100.1');
    const some = new ClientAddresses(cidrs('10.0.0.0/8'));
    expect(some.resolve('198.51.100.1', '6.6.6.6')).toBe('198.51.100.1');
  });

  it('takes the rightmost address no trusted proxy vouches for', () => {
    const a = new ClientAddresses(cidrs('10.0.0.0/8', '127.0.0.1'));
    expect(a.resolve('127.0.0.1', '203.0.113.5')).toBe('203.0.113.5');
    // A client that sends its own header cannot choose its address: the proxy appended the real one.
    expect(a.resolve('10.0.0.2', '6.6.6.6, 203.0.113.5')).toBe('203.0.113.5');
    expect(a.resolve('10.0.0.2', '6.6.6.6, 203.0.113.5, 10.0.0.9')).toBe('203.0.113.5');
    expect(a.resolve('10.0.0.2', ['6.6.6.6', '203.0.113.5'])).toBe('203.0.113.5');
    // Only proxies all the way: the leftmost one is the best we know.
    expect(a.resolve('10.0.0.2', '10.0.0.3, 10.0.0.4')).toBe('10.0.0.3');
    // Garbage a proxy would never write stops the walk at the last address a proxy vouched for.
    expect(a.resolve('10.0.0.2', 'not-an-ip, 10.0.0.4')).toBe('10.0.0.4');
    expect(a.resolve('10.0.0.2', undefined)).toBe('10.0.0.2');
  });

  it('treats IPv4-mapped IPv6 addresses as the IPv4 address', () => {
    expect(normalizeAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('::1')).toBe('::1');
    const a = new ClientAddresses(cidrs('127.0.0.1'));
    expect(a.isTrustedProxy('::ffff:127.0.0.1')).toBe(true);
    expect(a.resolve('127.0.0.1', '::ffff:203.0.113.5')).toBe('203.0.113.5');
  });
});
