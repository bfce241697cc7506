import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `::1`, `192.168.1.7` → a CIDR (a bare address is a host route), or null. */
export function parseCidr(text: string): Cidr | null {
  const [address = '', prefixText, extra] = text.split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d; one client, one key. */
export function normalizeAddress(address: string): string {
  const trimmed = address.trim();
  return trimmed.toLowerCase().startsWith('::ffff:') && isIP(trimmed.slice(7)) === 4 ? trimmed.slice(7) : trimmed;
}

/**
 * The address a request really comes from. Behind a load balancer every peer is the balancer, so
 * per-address limits would become one global bucket; X-Forwarded-For tells the client, but anyone
 * can send that header, so it is believed only when the peer is a configured trusted proxy, and
 * read from the right: the first address no trusted proxy vouches for is the client.
 */
export class ClientAddresses {
  private readonly trusted = new BlockList();
  private readonly anyTrusted: boolean;
  private readonly cache = new WeakMap<IncomingMessage, string>();

  constructor(trustedProxies: readonly Cidr[]) {
    for (const c of trustedProxies) this.trusted.addSubnet(c.address, c.prefix, c.family);
    this.anyTrusted = trustedProxies.length > 0;
  }

  isTrustedProxy(address: string): boolean {
    if (!this.anyTrusted) return false;
    const normalized = normalizeAddress(address);
    const version = isIP(normalized);
    return version !== 0 && this.trusted.check(normalized, version === 4 ? 'ipv4' : 'ipv6');
  }

  /** The client address of an HTTP request (Socket.IO: `socket.request`). */
  of(req: IncomingMessage): string {
    let address = this.cache.get(req);
    if (address === undefined) {
      address = this.resolve(normalizeAddress(req.socket.remoteAddress ?? ''), req.headers['x-forwarded-for']);
      this.cache.set(req, address);
    }
    return address;
  }

  resolve(peer: string, forwardedFor: string | string[] | undefined): string {
    if (!this.isTrustedProxy(peer) || forwardedFor === undefined) return peer;
    const chain = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map(normalizeAddress);
    let client = peer;
    for (let i = chain.length - 1; i >= 0; i--) {
      const hop = chain[i]!;
      // Proxies write the address they saw; anything else was made up further left.
      if (isIP(hop) === 0) break;
      client = hop;
      if (!this.isTrustedProxy(hop)) break;
    }
    return client;
  }
}
