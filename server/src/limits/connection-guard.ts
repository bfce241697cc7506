import type { Server } from 'node:http';
import tls from 'node:tls';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { normalizeAddress, type ClientAddresses } from '../http/client-address.js';

export interface ConnectionGuardOptions {
  /**
   * `maxConnections`: open connections in all, kept below the file-descriptor limit so existing
   * viewers keep being served; `connectionsPerAddress`: per peer address (trusted proxies are
   * exempt: their clients are counted by Socket.IO).
   */
  limits: Pick<Config['limits'], 'maxConnections' | 'connectionsPerAddress'>;
  addresses: ClientAddresses;
  logger: Logger;
  onRefused: (limit: string) => void;
}

const TOO_MANY_BODY = 'too many connections from your address\n';
const TOO_MANY = `HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: ${TOO_MANY_BODY.length}\r\nConnection: close\r\n\r\n${TOO_MANY_BODY}`;

/** One warning per interval at most: a flood must not become a log flood. */
const LOG_EVERY_MS = 10_000;

/**
 * Caps TCP connections before any HTTP is parsed: one address cannot hold thousands of sockets,
 * and when the server as a whole is saturated new connections are dropped (and logged) instead of
 * running out of file descriptors, which would stall segment writes and health checks too.
 *
 * Over HTTPS too: there 'connection' is still the raw TCP socket (the TLS socket arrives later,
 * as 'secureConnection'), so the cap acts before any TLS handshake work is done. A refused
 * connection is then only closed: a 429 could be read only after a handshake, which is the very
 * work (CPU, a slot) a flood should not get.
 */
export function guardConnections(server: Server, o: ConnectionGuardOptions): { open(address: string): number } {
  const open = new Map<string, number>();
  let loggedAt = 0;
  const warn = (what: string, details: object) => {
    const now = Date.now();
    if (now - loggedAt < LOG_EVERY_MS) return;
    loggedAt = now;
    o.logger.warn({ ...details, open: [...open.values()].reduce((a, b) => a + b, 0) }, what);
  };

  const { maxConnections, connectionsPerAddress } = o.limits;
  const overTls = server instanceof tls.Server;
  server.maxConnections = maxConnections;
  server.on('drop', (info) => {
    o.onRefused('connections');
    warn('connection limit reached: new connections are dropped', { limit: maxConnections, from: info?.remoteAddress });
  });
  server.on('connection', (socket) => {
    const address = normalizeAddress(socket.remoteAddress ?? '');
    if (o.addresses.isTrustedProxy(address)) return;
    const count = (open.get(address) ?? 0) + 1;
    if (count > connectionsPerAddress) {
      o.onRefused('connections_per_address');
      warn('per-address connection limit reached: connections refused', { address, limit: connectionsPerAddress });
      if (overTls) socket.destroy();
      else socket.end(TOO_MANY, () => socket.destroy());
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
  return { open: (address) => open.get(address) ?? 0 };
}
