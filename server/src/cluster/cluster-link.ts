import type { Audience } from '../../../protocol/index.js';
import type { ChannelRegistry } from '../channel/channel-registry.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { DirectorySource, PresenceSink } from '../signalling/ports.js';
import type { ClusterBus } from './bus.js';
import type { ChannelRecord } from './channel-directory.js';
import type { Cluster } from './cluster.js';
import type { ClusterMessage } from './messages.js';
import { PipeOrigin } from './pipe-origin.js';
import type { RemoteChannels } from './remote-channels.js';

/** Readers are attached to a channel under a name; relay pipes under this one. */
const PIPES = 'relay-pipes';

export interface ClusterLinkOptions {
  cluster: Cluster;
  bus: ClusterBus;
  /** This instance's channels (their tracks are piped to other instances' relays). */
  registry: ChannelRegistry;
  rtc: Config['rtc'];
  remoteChannels: RemoteChannels;
  logger: Logger;
}

type Snapshot = Pick<ChannelRecord, 'state' | 'audience' | 'liveSince'>;

/**
 * This instance's side of the cluster: it publishes its channels in the shared directory (and
 * keeps the records alive), counts their viewers on other instances, relays their events to
 * those viewers, pipes their tracks to other instances' relays, and hands other owners' events
 * to the viewers connected here. Signalling sees it as a PresenceSink and a DirectorySource.
 */
export class ClusterLink implements PresenceSink, DirectorySource {
  /** The last state and audience of each of this instance's channels, rewritten every heartbeat. */
  private readonly snapshots = new Map<string, Snapshot>();
  /** channelId → instanceId → viewers of this instance's channel held by that instance. */
  private readonly remoteCounts = new Map<string, Map<string, Audience & { at: number }>>();
  private readonly elsewhereListeners = new Set<(channelId: string) => void>();
  private readonly directoryListeners = new Set<() => void>();
  private readonly writes = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  private redisFailing = false;

  constructor(private readonly o: ClusterLinkOptions) {
    const { bus } = o;
    bus.onAudience((report) => this.onAudienceReport(report));
    bus.onChannelEvent(({ channelId, message }) => o.remoteChannels.deliver(channelId, message));
    bus.onDirectoryChanged(() => this.directoryChanged());
    bus.onPipeOpen(async ({ channelId, instanceId, endpoint }) => {
      const channel = o.registry.get(channelId);
      if (!channel || channel.ended) return null;
      try {
        return await channel.reader(PIPES, () => new PipeOrigin(channel, o.rtc)).offer(instanceId, endpoint);
      } catch (error) {
        channel.logger.warn({ instanceId, err: String(error) }, 'could not pipe the channel to another instance');
        return { error: `the channel’s server could not relay it: ${error instanceof Error ? error.message : String(error)}` };
      }
    });
    bus.onKeyFrame(({ channelId, instanceId }) => this.pipesOf(channelId)?.requestKeyFrame(instanceId));
    bus.onPipeClose(({ channelId, instanceId }) => this.pipesOf(channelId)?.closePipe(instanceId));
    this.track(o.cluster.directory.markAlive(o.cluster.instanceId));
    this.timer = setInterval(() => void this.heartbeat(), o.cluster.heartbeatMs);
    this.timer.unref();
  }

  // ---------------------------------------------------------------- PresenceSink

  viewersElsewhere(channelId: string): Audience {
    const total = { viewers: 0, realtime: 0 };
    for (const c of this.remoteCounts.get(channelId)?.values() ?? []) {
      total.viewers += c.viewers;
      total.realtime += c.realtime;
    }
    return total;
  }

  onViewersElsewhere(listener: (channelId: string) => void): void {
    this.elsewhereListeners.add(listener);
  }

  relay: PresenceSink['relay'] = (channelId, message) => this.o.bus.relay(channelId, message);

  /** One of this instance's channels changed or ended: rewrite its record, tell the others. */
  changed(channelId: string, snapshot: Snapshot | null): void {
    if (snapshot) this.snapshots.set(channelId, snapshot);
    else {
      this.snapshots.delete(channelId);
      this.remoteCounts.delete(channelId);
    }
    this.track(this.writeRecord(channelId).then(() => this.o.bus.directoryChanged()));
  }

  // ---------------------------------------------------------------- DirectorySource

  async live() {
    return (await this.o.cluster.directory.list())
      .filter((r) => r.state.phase === 'live')
      .map((r) => ({ channelId: r.channelId, title: r.state.title, viewers: r.audience.viewers, liveSince: r.liveSince }));
  }

  onChange(listener: () => void): void {
    this.directoryListeners.add(listener);
  }

  // ----------------------------------------------------------------

  /** Stops the heartbeat once the pending directory writes are done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.writes]);
  }

  private pipesOf(channelId: string): PipeOrigin | undefined {
    const reader = this.o.registry.get(channelId)?.findReader(PIPES);
    return reader instanceof PipeOrigin ? reader : undefined;
  }

  private directoryChanged(): void {
    for (const listener of this.directoryListeners) listener();
  }

  private onAudienceReport({ channelId, instanceId, viewers, realtime }: ClusterMessage<'audience'>): void {
    if (!this.snapshots.has(channelId)) return;
    let counts = this.remoteCounts.get(channelId);
    if (!counts) this.remoteCounts.set(channelId, (counts = new Map()));
    if (viewers > 0) counts.set(instanceId, { viewers, realtime, at: Date.now() });
    else counts.delete(instanceId);
    for (const listener of this.elsewhereListeners) listener(channelId);
  }

  private async writeRecord(channelId: string): Promise<void> {
    const snapshot = this.snapshots.get(channelId);
    const directory = this.o.cluster.directory;
    if (!snapshot || snapshot.state.phase === 'ended') return directory.remove(channelId);
    await directory.put({ channelId, instanceId: this.o.cluster.instanceId, ...snapshot });
  }

  private track(write: Promise<void>): void {
    const tracked = write.then(
      () => this.redisHealth(null),
      (error: unknown) => this.redisHealth(error),
    );
    this.writes.add(tracked);
    void tracked.finally(() => this.writes.delete(tracked));
  }

  private redisHealth(error: unknown): void {
    if (error && !this.redisFailing) this.o.logger.warn({ err: String(error) }, 'cannot update the channel directory in Redis');
    if (!error && this.redisFailing) this.o.logger.info('channel directory updates work again');
    this.redisFailing = Boolean(error);
  }

  /** Pipes to relays whose instance stopped renewing its mark (it died) are closed. */
  private async closePipesOfDeadInstances(): Promise<void> {
    const piped = this.o.registry
      .list()
      .map((channel) => ({ channel, pipes: this.pipesOf(channel.id) }))
      .filter((c): c is { channel: (typeof c)['channel']; pipes: PipeOrigin } => (c.pipes?.count ?? 0) > 0);
    // Right after a Redis outage marks may have expired while their instances live on.
    if (piped.length === 0 || !this.o.cluster.settled) return;
    let alive: Set<string>;
    try {
      alive = await this.o.cluster.directory.alive([...new Set(piped.flatMap((c) => c.pipes.instances()))]);
    } catch {
      return; // Redis cannot say; try again next time.
    }
    for (const { channel, pipes } of piped) {
      for (const instanceId of pipes.instances()) {
        if (alive.has(instanceId)) continue;
        channel.logger.info({ instanceId }, 'closing the pipe to an instance that is gone');
        pipes.closePipe(instanceId);
      }
    }
  }

  private async heartbeat(): Promise<void> {
    this.track(this.o.cluster.directory.markAlive(this.o.cluster.instanceId));
    for (const channelId of this.snapshots.keys()) this.track(this.writeRecord(channelId));
    await this.closePipesOfDeadInstances();
    // Counts from an instance that stopped reporting (it died) no longer count. (Its pipe stays
    // until the channel ends: a Redis outage also silences reports, and the relay on the other
    // side may still be feeding viewers.)
    const stale = Date.now() - this.o.cluster.directory.ttlMs;
    for (const [channelId, counts] of this.remoteCounts) {
      let changed = false;
      for (const [instanceId, { at }] of counts) if (at < stale && counts.delete(instanceId)) changed = true;
      if (changed) for (const listener of this.elsewhereListeners) listener(channelId);
    }
    this.o.remoteChannels.reportAll();
    await this.o.remoteChannels.checkOwners();
    this.directoryChanged();
  }
}
