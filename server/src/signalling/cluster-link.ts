import type { Namespace } from 'socket.io';
import { z } from 'zod';
import type { ChannelBroadcast, LobbyClientToServer, LobbyServerToClient } from '../../../protocol/index.js';
import type { Cluster, ClusterEvents } from '../cluster/cluster.js';
import type { Logger } from '../logger.js';
import type { ChannelRegistry } from '../media/channel-registry.js';
import type { Audiences, RemoteAudience } from './audiences.js';
import type { RemoteChannels } from './remote-channels.js';

const audienceReport = z.object({ channelId: z.string(), instanceId: z.string(), viewers: z.number().int().min(0) });
const channelEvent = z.object({
  channelId: z.string(),
  message: z.discriminatedUnion('event', [
    z.object({ event: z.literal('channelState'), args: z.tuple([z.object({ channelId: z.string(), phase: z.string() }).loose()]) }),
    z.object({ event: z.literal('viewerCount'), args: z.tuple([z.object({ viewers: z.number(), realtime: z.number() })]) }),
    z.object({ event: z.literal('streamEnded'), args: z.tuple([z.object({ reason: z.string() })]) }),
  ]),
});

export type ClusterLobby = Namespace<LobbyClientToServer, LobbyServerToClient, ClusterEvents>;

export interface ClusterLinkOptions {
  cluster: Cluster;
  /** Server-side events travel on the lobby namespace, which exists on every instance. */
  lobby: ClusterLobby;
  registry: ChannelRegistry;
  remoteChannels: RemoteChannels;
  /** Refreshes the directory pushed to this instance's lobby. */
  directoryChanged: () => void;
  logger: Logger;
}

/**
 * Ties this instance's signalling to the other instances: publishes its channels in the shared
 * directory, relays their events to viewers connected elsewhere, collects those viewers'
 * counts, and hands other owners' events to the viewers connected here.
 */
export class ClusterLink implements RemoteAudience {
  /** channelId → instanceId → viewers of this instance's channel held by that instance. */
  private readonly remoteCounts = new Map<string, Map<string, { viewers: number; at: number }>>();
  private readonly writes = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  private audiences: Audiences | null = null;
  private redisFailing = false;

  constructor(private readonly o: ClusterLinkOptions) {
    // Messages come from other instances, possibly of another version: checked before use, since
    // a throw here would escape into the Redis adapter.
    o.lobby.on('audience', (report) => {
      const parsed = audienceReport.safeParse(report);
      if (parsed.success) this.onAudienceReport(parsed.data);
      else this.ignored('audience', report);
    });
    o.lobby.on('channelEvent', (channelId, message) => {
      const parsed = channelEvent.safeParse({ channelId, message });
      if (parsed.success) o.remoteChannels.deliver(parsed.data.channelId, parsed.data.message as ChannelBroadcast);
      else this.ignored('channelEvent', message);
    });
    o.lobby.on('directoryChanged', () => o.directoryChanged());
    this.timer = setInterval(() => void this.heartbeat(), o.cluster.heartbeatMs);
    this.timer.unref();
  }

  bind(audiences: Audiences): void {
    this.audiences = audiences;
  }

  viewers(channelId: string): number {
    const counts = this.remoteCounts.get(channelId);
    let total = 0;
    for (const { viewers } of counts?.values() ?? []) total += viewers;
    return total;
  }

  relay(channelId: string, message: ChannelBroadcast): void {
    this.o.lobby.serverSideEmit('channelEvent', channelId, message);
  }

  /** Sent by this instance as a non-owner (see RemoteChannels). */
  report(channelId: string, viewers: number): void {
    this.o.lobby.serverSideEmit('audience', { channelId, instanceId: this.o.cluster.instanceId, viewers });
  }

  /** One of this instance's channels changed or ended: rewrite its record, tell the others. */
  changed(channelId: string): void {
    if (!this.o.registry.get(channelId)) this.remoteCounts.delete(channelId);
    this.track(
      this.writeRecord(channelId).then(() => {
        this.o.lobby.serverSideEmit('directoryChanged');
      }),
    );
  }

  /** Stops the heartbeat once the pending directory writes are done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.writes]);
  }

  private ignored(event: string, payload: unknown): void {
    this.o.logger.warn({ event, payload: String(JSON.stringify(payload)).slice(0, 200) }, 'ignored a malformed message from another instance');
  }

  private onAudienceReport({ channelId, instanceId, viewers }: Parameters<ClusterEvents['audience']>[0]): void {
    if (!this.o.registry.get(channelId)) return;
    let counts = this.remoteCounts.get(channelId);
    if (!counts) this.remoteCounts.set(channelId, (counts = new Map()));
    if (viewers > 0) counts.set(instanceId, { viewers, at: Date.now() });
    else counts.delete(instanceId);
    this.audiences?.refresh(channelId);
  }

  private async writeRecord(channelId: string): Promise<void> {
    const channel = this.o.registry.get(channelId);
    const directory = this.o.cluster.directory;
    if (!channel || channel.ended || !this.audiences) return directory.remove(channelId);
    await directory.put({
      channelId,
      instanceId: this.o.cluster.instanceId,
      state: this.audiences.stateOf(channel),
      audience: this.audiences.audienceOf(channelId),
      liveSince: channel.liveSince,
    });
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

  private async heartbeat(): Promise<void> {
    for (const channel of this.o.registry.list()) this.track(this.writeRecord(channel.id));
    // Counts from an instance that stopped reporting (it died) no longer count.
    const stale = Date.now() - this.o.cluster.directory.ttlMs;
    for (const [channelId, counts] of this.remoteCounts) {
      let changed = false;
      for (const [instanceId, { at }] of counts) if (at < stale && counts.delete(instanceId)) changed = true;
      if (changed) this.audiences?.refresh(channelId);
    }
    this.o.remoteChannels.reportAll();
    await this.o.remoteChannels.checkOwners();
    this.o.directoryChanged();
  }
}
