import type { Config } from '../config.js';
import { Quota } from './quota.js';

/**
 * What one client may hold at once, so that nobody can squat the server's channels, ports and
 * real-time slots or starve others of connections. Keys are client addresses (see
 * ClientAddresses: behind trusted proxies, the forwarded one) or Socket.IO connection ids.
 */
export class ClientLimits {
  readonly channelsPerAddress: Quota;
  readonly socketsPerAddress: Quota;
  readonly realtimePerAddress: Quota;
  readonly realtimePerConnection: Quota;
  readonly pendingPerConnection: Quota;

  constructor(limits: Config['limits'], onRefused: (limit: string) => void) {
    this.channelsPerAddress = new Quota(
      'channels_per_address',
      limits.channelsPerAddress,
      (n) => `your address already has ${n} live channels; end one before going live again`,
      onRefused,
    );
    this.socketsPerAddress = new Quota(
      'sockets_per_address',
      limits.socketsPerAddress,
      (n) => `too many connections from your address (limit ${n}); close some pages and try again`,
      onRefused,
    );
    this.realtimePerAddress = new Quota(
      'realtime_per_address',
      limits.realtimePerAddress,
      (n) => `your address already watches ${n} streams in real time; watch over HLS`,
      onRefused,
    );
    this.realtimePerConnection = new Quota(
      'realtime_per_connection',
      limits.realtimePerConnection,
      (n) => `this connection already watches ${n} streams in real time; watch over HLS`,
      onRefused,
    );
    this.pendingPerConnection = new Quota(
      'pending_requests',
      limits.pendingRequests,
      (n) => `too many requests in progress on this connection (limit ${n}); wait for the answers`,
      onRefused,
    );
  }
}
