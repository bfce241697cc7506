import type { Namespace } from 'socket.io';
import type { Audience, ChannelClientToServer, ChannelServerToClient } from '../../../protocol/index.js';
import type { Channel } from '../media/channel.js';
import { CoalescedValue } from './coalesced-value.js';

export interface ChannelSocketData {
  role: 'viewer' | 'broadcaster';
}
export type ChannelNamespace = Namespace<ChannelClientToServer, ChannelServerToClient, Record<string, never>, ChannelSocketData>;

const sameAudience = (a: Audience, b: Audience) => a.viewers === b.viewers && a.realtime === b.realtime;

/** Signalling-side state of one channel: its namespace and who is watching. */
class ChannelAudience {
  readonly viewerSockets = new Set<string>();
  readonly audience: CoalescedValue<Audience>;

  constructor(
    readonly channel: Channel,
    public nsp: ChannelNamespace,
    intervalMs: number,
    onChange: () => void,
  ) {
    this.audience = new CoalescedValue<Audience>({ viewers: 0, realtime: 0 }, intervalMs, (audience) => {
      this.nsp.emit('viewerCount', audience);
      onChange();
    }, sameAudience);
    channel.on('state', (state) => this.nsp.emit('channelState', state));
    channel.on('realtimeViewers', () => this.update());
  }

  get viewers(): number {
    return this.viewerSockets.size;
  }

  update(): void {
    this.audience.set({ viewers: this.viewerSockets.size, realtime: this.channel.realtime.count });
  }
}

/**
 * Audiences of all channels. Viewer counts are pushed to everyone in a channel's namespace,
 * coalesced to at most one update per interval; `onChange` hears about every published change
 * (the directory uses it).
 */
export class Audiences {
  private readonly byChannel = new Map<string, ChannelAudience>();

  constructor(
    private readonly intervalMs: number,
    private readonly onChange: () => void,
  ) {}

  /** The audience of a channel, created on its first connection. */
  join(channel: Channel, nsp: ChannelNamespace): ChannelAudience {
    let audience = this.byChannel.get(channel.id);
    if (!audience) {
      const created = new ChannelAudience(channel, nsp, this.intervalMs, this.onChange);
      audience = created;
      this.byChannel.set(channel.id, created);
      channel.once('ended', (reason) => {
        created.audience.dispose();
        this.byChannel.delete(channel.id);
        created.nsp.emit('streamEnded', { reason });
        // Clients leave on streamEnded; disconnecting the stragglers a moment later lets
        // in-flight acks (e.g. the broadcaster's stopBroadcast) reach them first.
        setTimeout(() => created.nsp.disconnectSockets(), 1000).unref();
        this.onChange();
      });
    }
    // With cleanupEmptyChildNamespaces a channel's namespace object is re-created after it empties.
    audience.nsp = nsp;
    return audience;
  }

  viewersOf(channelId: string): number {
    return this.byChannel.get(channelId)?.viewers ?? 0;
  }

  /** Viewers on all channels of this server, and how many of them watch in real time. */
  totals(): { viewers: number; realtime: number } {
    let viewers = 0;
    let realtime = 0;
    for (const a of this.byChannel.values()) {
      viewers += a.viewers;
      realtime += a.channel.realtime.count;
    }
    return { viewers, realtime };
  }
}
