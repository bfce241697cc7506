import type { Audience } from '../../../protocol/index.js';
import type { ChannelRegistry } from '../channel/channel-registry.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { WorkerPool } from '../media/worker-pool.js';
import type { ChannelLocator, DirectorySource, PresenceSink } from '../signalling/ports.js';
import type { SignallingServer } from '../signalling/socket-types.js';
import { ClusterBus } from './bus.js';
import { ClusterLink } from './cluster-link.js';
import type { Cluster } from './cluster.js';
import { remoteChannelPort } from './remote-channel-port.js';
import { Relays } from './relay.js';
import { RemoteChannels } from './remote-channels.js';

/** What the cluster gives the single-instance server, through the interfaces signalling declares. */
export interface ClusterPlugIn {
  /** Channels other instances carry, served here. */
  elsewhere: ChannelLocator;
  presence: PresenceSink;
  directory: DirectorySource;
  /** Viewers connected here to other instances' channels (metrics). */
  viewersHere(): Audience;
  stop(): Promise<void>;
}

/**
 * Everything of the cluster that runs inside this instance, built in one place (called by app.ts
 * only when REDIS_URL is set): the message bus, this instance's link (directory records, remote
 * counts, pipes), the viewers of other instances' channels and the relays that serve them.
 */
export function plugInCluster(o: {
  cluster: Cluster;
  io: SignallingServer;
  registry: ChannelRegistry;
  pool: WorkerPool;
  config: Pick<Config, 'rtc' | 'channels' | 'presence'>;
  logger: Logger;
}): ClusterPlugIn {
  const { cluster, config, logger } = o;
  const bus = new ClusterBus(o.io.of('/'), cluster.instanceId, logger);
  const relays: Relays = new Relays({
    pool: o.pool,
    rtc: config.rtc,
    limit: config.channels.realtimeViewers,
    bus,
    logger,
    onRealtimeChange: (channelId) => remoteChannels.refresh(channelId),
  });
  const remoteChannels = new RemoteChannels({
    intervalMs: config.presence.intervalMs,
    report: (channelId, audience) => bus.report(channelId, audience),
    realtimeOf: (channelId) => relays.realtimeCount(channelId),
    released: (channelId) => relays.close(channelId),
    lookup: (channelId) => cluster.locate(channelId),
    logger,
  });
  const link = new ClusterLink({ cluster, bus, registry: o.registry, rtc: config.rtc, remoteChannels, logger });
  return {
    elsewhere: {
      find: async (channelId) => {
        const record = await cluster.locate(channelId);
        // Our own record without the channel in the registry: it has just ended.
        if (!record || record.state.phase === 'ended' || record.instanceId === cluster.instanceId) return null;
        return remoteChannelPort(record, remoteChannels, relays, logger);
      },
    },
    presence: link,
    directory: link,
    viewersHere: () => ({ viewers: remoteChannels.viewers, realtime: relays.realtimeTotal }),
    stop: async () => {
      relays.closeAll();
      await link.stop();
    },
  };
}
