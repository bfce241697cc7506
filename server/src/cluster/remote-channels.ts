import type { Audience, ChannelBroadcast } from '../../../protocol/index.js';
import type { Logger } from '../logger.js';
import { emitLocally, sameAudience } from '../signalling/audiences.js';
import { CoalescedValue } from '../signalling/coalesced-value.js';
import type { SignallingNamespace, SignallingSocket } from '../signalling/socket-types.js';
import type { ChannelRecord } from './channel-directory.js';

/** Where the viewers of one channel on this instance are told things. */
export interface ViewerRoom {
  tell(socketId: string, message: ChannelBroadcast): void;
  tellAll(message: ChannelBroadcast): void;
  disconnectAll(): void;
}

/** A channel namespace on this instance as a ViewerRoom. */
export function roomOf(nsp: SignallingNamespace): ViewerRoom {
  return {
    tell: (socketId, message) => {
      const socket: SignallingSocket | undefined = nsp.sockets.get(socketId);
      if (!socket) return;
      if (message.event === 'channelState') socket.emit('channelState', ...message.args);
      else if (message.event === 'viewerCount') socket.emit('viewerCount', ...message.args);
      else socket.emit('streamEnded', ...message.args);
    },
    tellAll: (message) => emitLocally(nsp, message),
    disconnectAll: () => nsp.local.disconnectSockets(),
  };
}

export interface RemoteChannelsOptions {
  intervalMs: number;
  /** Tells the owning instance how many viewers of its channel this instance holds. */
  report: (channelId: string, audience: Audience) => void;
  /** How many of them watch in real time here (through a relay of the channel). */
  realtimeOf: (channelId: string) => number;
  /** The last viewer here left, or the channel ended: what was kept for it can go. */
  released: (channelId: string) => void;
  /** The channel's directory record; null when it is gone, throws when Redis cannot say. */
  lookup: (channelId: string) => Promise<ChannelRecord | null>;
  logger: Logger;
}

class RemoteChannel {
  readonly viewers = new Set<string>();
  readonly count: CoalescedValue<Audience>;
  /** What our viewers were last told (JSON), to notice events lost while Redis was away. */
  told = { state: '', audience: '' };

  constructor(
    readonly channelId: string,
    public room: ViewerRoom,
    report: (audience: Audience) => void,
    intervalMs: number,
  ) {
    this.count = new CoalescedValue<Audience>({ viewers: 0, realtime: 0 }, intervalMs, report, sameAudience);
  }
}

/**
 * Viewers who reached this instance for a channel another instance carries. They are counted
 * here and reported to the owner; the owner's events (state, viewer count, end) come back
 * through the cluster and are handed to them. If the owner's directory record expires (the
 * instance died), they are told the stream ended.
 */
export class RemoteChannels {
  private readonly byChannel = new Map<string, RemoteChannel>();

  constructor(private readonly o: RemoteChannelsOptions) {}

  join(room: ViewerRoom, socketId: string, record: ChannelRecord): void {
    const id = record.channelId;
    let remote = this.byChannel.get(id);
    if (!remote) {
      remote = new RemoteChannel(id, room, (viewers) => this.o.report(id, viewers), this.o.intervalMs);
      this.byChannel.set(id, remote);
    }
    // With cleanupEmptyChildNamespaces a channel's namespace object is re-created after it empties.
    remote.room = room;
    remote.viewers.add(socketId);
    this.recount(remote);
    room.tell(socketId, { event: 'channelState', args: [record.state] });
    room.tell(socketId, { event: 'viewerCount', args: [record.audience] });
    remote.told = { state: JSON.stringify(record.state), audience: JSON.stringify(record.audience) };
  }

  leave(channelId: string, socketId: string): void {
    const remote = this.byChannel.get(channelId);
    if (!remote?.viewers.delete(socketId)) return;
    if (remote.viewers.size > 0) return this.recount(remote);
    remote.count.dispose();
    this.byChannel.delete(channelId);
    this.o.report(channelId, { viewers: 0, realtime: 0 });
    this.o.released(channelId);
  }

  /** The number of real-time viewers here changed. */
  refresh(channelId: string): void {
    const remote = this.byChannel.get(channelId);
    if (remote) this.recount(remote);
  }

  private recount(remote: RemoteChannel): void {
    remote.count.set({ viewers: remote.viewers.size, realtime: this.o.realtimeOf(remote.channelId) });
  }

  /** An event of a channel from its owner. */
  deliver(channelId: string, message: ChannelBroadcast): void {
    const remote = this.byChannel.get(channelId);
    if (!remote) return;
    remote.room.tellAll(message);
    if (message.event === 'channelState') remote.told.state = JSON.stringify(message.args[0]);
    if (message.event === 'viewerCount') remote.told.audience = JSON.stringify(message.args[0]);
    if (message.event === 'streamEnded') this.drop(remote);
  }

  /** Re-reports every count (reports travel over pub/sub, which does not retry). */
  reportAll(): void {
    for (const remote of this.byChannel.values()) this.o.report(remote.channelId, remote.count.value);
  }

  /**
   * Ends the channels whose owner stopped refreshing their directory records, and catches up
   * viewers on anything the owner said that did not arrive (pub/sub drops events while Redis is
   * unreachable).
   */
  async checkOwners(): Promise<void> {
    await Promise.all(
      [...this.byChannel.values()].map(async (remote) => {
        let record: ChannelRecord | null;
        try {
          record = await this.o.lookup(remote.channelId);
        } catch (error) {
          // Redis is unreachable: that says nothing about the owner, keep the viewers.
          this.o.logger.warn({ channelId: remote.channelId, err: String(error) }, 'cannot check the channel owner');
          return;
        }
        if (this.byChannel.get(remote.channelId) !== remote) return;
        if (record) return this.catchUp(remote, record);
        this.o.logger.warn({ channelId: remote.channelId }, 'the instance carrying this channel is gone; ending it for our viewers');
        remote.room.tellAll({ event: 'streamEnded', args: [{ reason: 'the server carrying this stream stopped responding' }] });
        this.drop(remote);
      }),
    );
  }

  get size(): number {
    return this.byChannel.size;
  }

  /** Viewers connected here to channels of other instances. */
  get viewers(): number {
    let total = 0;
    for (const remote of this.byChannel.values()) total += remote.viewers.size;
    return total;
  }

  private catchUp(remote: RemoteChannel, record: ChannelRecord): void {
    const state = JSON.stringify(record.state);
    if (state !== remote.told.state) this.deliver(remote.channelId, { event: 'channelState', args: [record.state] });
    const audience = JSON.stringify(record.audience);
    if (audience !== remote.told.audience) this.deliver(remote.channelId, { event: 'viewerCount', args: [record.audience] });
  }

  private drop(remote: RemoteChannel): void {
    remote.count.dispose();
    this.byChannel.delete(remote.channelId);
    this.o.released(remote.channelId);
    const room = remote.room;
    setTimeout(() => room.disconnectAll(), 1000).unref();
  }
}
