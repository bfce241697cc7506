import type { SignallingNamespace } from '../signalling/socket-types.js';
import type { Audience, ChannelBroadcast, LobbyClientToServer, LobbyServerToClient } from '../../../protocol/index.js';
import type { Cluster } from './cluster.js';
import { clusterMessages, type ClusterEvents, type ClusterMessage, type PipeAnswer } from './messages.js';
import { ChannelError } from '../channel/channel-error.js';
import type { PipeEndpoint, PipeOffer } from './pipe-origin.js';
import type { Logger } from '../logger.js';
import type { ChannelRegistry } from '../channel/channel-registry.js';
import type { Audiences, RemoteAudience } from '../signalling/audiences.js';
import type { RemoteChannels } from './remote-channels.js';

export type ClusterLobby = SignallingNamespace;

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
  private readonly remoteCounts = new Map<string, Map<string, Audience & { at: number }>>();
  private readonly writes = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  private audiences: Audiences | null = null;
  private redisFailing = false;

  constructor(private readonly o: ClusterLinkOptions) {
    // Messages come from other instances, possibly of another version: checked before use, since
    // a throw here would escape into the Redis adapter.
    o.lobby.on('audience', (report) => {
      const parsed = clusterMessages.audience.safeParse(report);
      if (parsed.success) this.onAudienceReport(parsed.data);
      else this.ignored('audience', report);
    });
    o.lobby.on('channelEvent', (event) => {
      const parsed = clusterMessages.channelEvent.safeParse(event);
      if (parsed.success) o.remoteChannels.deliver(parsed.data.channelId, parsed.data.message);
      else this.ignored('channelEvent', event);
    });
    o.lobby.on('directoryChanged', () => o.directoryChanged());
    o.lobby.on('pipeOpen', (request, answer) => {
      const parsed = clusterMessages.pipeOpen.safeParse(request);
      if (typeof answer !== 'function') return this.ignored('pipeOpen', request);
      if (!parsed.success) return answer({ error: 'malformed pipe request' });
      const channel = o.registry.get(parsed.data.channelId);
      if (!channel || channel.ended) return answer(null);
      const { instanceId, endpoint } = parsed.data;
      channel.pipes.offer(instanceId, endpoint, channel.liveProducers).then(answer, (error: unknown) => {
        channel.logger.warn({ instanceId, err: String(error) }, 'could not pipe the channel to another instance');
        answer({ error: `the channel’s server could not relay it: ${error instanceof Error ? error.message : String(error)}` });
      });
    });
    o.lobby.on('keyFrame', (request) => {
      const parsed = clusterMessages.keyFrame.safeParse(request);
      if (!parsed.success) return;
      const channel = o.registry.get(parsed.data.channelId);
      const via = channel?.pipes.videoConsumer(parsed.data.instanceId);
      if (channel && via) channel.requestKeyFrame(via);
    });
    o.lobby.on('pipeClose', (request) => {
      const parsed = clusterMessages.pipeClose.safeParse(request);
      if (parsed.success) o.registry.get(parsed.data.channelId)?.pipes.close(parsed.data.instanceId);
    });
    this.track(o.cluster.directory.markAlive(o.cluster.instanceId));
    this.timer = setInterval(() => void this.heartbeat(), o.cluster.heartbeatMs);
    this.timer.unref();
  }

  bind(audiences: Audiences): void {
    this.audiences = audiences;
  }

  viewers(channelId: string): Audience {
    const total = { viewers: 0, realtime: 0 };
    for (const c of this.remoteCounts.get(channelId)?.values() ?? []) {
      total.viewers += c.viewers;
      total.realtime += c.realtime;
    }
    return total;
  }

  /** Asks the instance that carries a channel to pipe its tracks to this one. */
  async requestPipe(channelId: string, endpoint: PipeEndpoint): Promise<PipeOffer> {
    let answers: PipeAnswer[];
    try {
      // The Redis adapter gives up on instances that do not answer within its requestsTimeout.
      answers = await this.o.lobby.serverSideEmitWithAck('pipeOpen', { channelId, instanceId: this.o.cluster.instanceId, endpoint });
    } catch (error) {
      throw new ChannelError('internal', `the channel’s server did not answer in time (${error instanceof Error ? error.message : String(error)})`);
    }
    const failure = answers.find((a): a is { error: string } => a !== null && 'error' in a);
    const offer = answers.find((a): a is PipeOffer => a !== null && 'producers' in a);
    if (offer) return offer;
    throw new ChannelError('not-found', failure?.error ?? 'no server carries this channel any more');
  }

  requestKeyFrame(channelId: string): void {
    this.o.lobby.serverSideEmit('keyFrame', { channelId, instanceId: this.o.cluster.instanceId });
  }

  closePipe(channelId: string): void {
    this.o.lobby.serverSideEmit('pipeClose', { channelId, instanceId: this.o.cluster.instanceId });
  }

  relay(channelId: string, message: ChannelBroadcast): void {
    this.o.lobby.serverSideEmit('channelEvent', { channelId, message });
  }

  /** Sent by this instance as a non-owner (see RemoteChannels). */
  report(channelId: string, audience: Audience): void {
    this.o.lobby.serverSideEmit('audience', { channelId, instanceId: this.o.cluster.instanceId, ...audience });
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

  private onAudienceReport({ channelId, instanceId, viewers, realtime }: ClusterMessage<'audience'>): void {
    if (!this.o.registry.get(channelId)) return;
    let counts = this.remoteCounts.get(channelId);
    if (!counts) this.remoteCounts.set(channelId, (counts = new Map()));
    if (viewers > 0) counts.set(instanceId, { viewers, realtime, at: Date.now() });
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

  /** Pipes to relays whose instance stopped renewing its mark (it died) are closed. */
  private async closePipesOfDeadInstances(): Promise<void> {
    const channels = this.o.registry.list().filter((c) => c.pipes.count > 0);
    // Right after a Redis outage marks may have expired while their instances live on.
    if (channels.length === 0 || !this.o.cluster.settled) return;
    let alive: Set<string>;
    try {
      alive = await this.o.cluster.directory.alive([...new Set(channels.flatMap((c) => c.pipes.instances()))]);
    } catch {
      return; // Redis cannot say; try again next time.
    }
    for (const channel of channels) {
      for (const instanceId of channel.pipes.instances()) {
        if (alive.has(instanceId)) continue;
        channel.logger.info({ instanceId }, 'closing the pipe to an instance that is gone');
        channel.pipes.close(instanceId);
      }
    }
  }

  private async heartbeat(): Promise<void> {
    this.track(this.o.cluster.directory.markAlive(this.o.cluster.instanceId));
    for (const channel of this.o.registry.list()) this.track(this.writeRecord(channel.id));
    await this.closePipesOfDeadInstances();
    // Counts from an instance that stopped reporting (it died) no longer count.
    const stale = Date.now() - this.o.cluster.directory.ttlMs;
    for (const [channelId, counts] of this.remoteCounts) {
      let changed = false;
      // (Its pipe stays until the channel ends: a Redis outage also silences reports, and the
      // relay on the other side may still be feeding viewers.)
      for (const [instanceId, { at }] of counts) if (at < stale && counts.delete(instanceId)) changed = true;
      if (changed) this.audiences?.refresh(channelId);
    }
    this.o.remoteChannels.reportAll();
    await this.o.remoteChannels.checkOwners();
    this.o.directoryChanged();
  }
}
