import type { Audience, ChannelBroadcast, ChannelState } from '../../../protocol/index.js';
import type { SignallingNamespace } from './socket-types.js';
import type { Channel } from '../channel/channel.js';
import { CoalescedValue } from './coalesced-value.js';

export type ChannelNamespace = SignallingNamespace;

export const sameAudience = (a: Audience, b: Audience): boolean => a.viewers === b.viewers && a.realtime === b.realtime;

/** Sends an event to the namespace's sockets on this instance only. */
export function emitLocally(nsp: ChannelNamespace, message: ChannelBroadcast): void {
  // Each branch pairs an event with its own payload; spelled out so that the compiler checks each.
  if (message.event === 'channelState') nsp.local.emit('channelState', ...message.args);
  else if (message.event === 'viewerCount') nsp.local.emit('viewerCount', ...message.args);
  else nsp.local.emit('streamEnded', ...message.args);
}

/** Viewers of this instance's channels that are connected through other instances. */
export interface RemoteAudience {
  viewers(channelId: string): Audience;
  /** Delivers a channel event to that channel's viewers on other instances. */
  relay(channelId: string, message: ChannelBroadcast): void;
}

export interface AudienceOptions {
  /** Viewer-count updates are coalesced to at most one per interval. */
  intervalMs: number;
  /** Where this instance's channels are served from, as other instances' viewers must reach it. */
  origin: () => string | null;
  /** The state or the audience of a channel changed, or it ended (directory updates). */
  onChange: (channelId: string) => void;
  remote?: RemoteAudience;
}

/** Signalling-side state of one channel of this instance: who is watching, and telling them. */
class ChannelAudience {
  readonly viewerSockets = new Set<string>();
  readonly audience: CoalescedValue<Audience>;
  /** The channel's namespace on this instance, once someone connected to it. */
  nsp: ChannelNamespace | null = null;

  constructor(
    readonly channel: Channel,
    private readonly o: AudienceOptions,
  ) {
    this.audience = new CoalescedValue<Audience>({ viewers: 0, realtime: 0 }, o.intervalMs, (audience) => {
      this.broadcast({ event: 'viewerCount', args: [audience] });
      o.onChange(channel.id);
    }, sameAudience);
    channel.on('state', () => {
      this.broadcast({ event: 'channelState', args: [this.state] });
      o.onChange(channel.id);
    });
    channel.on('realtimeViewers', () => this.update());
  }

  get state(): ChannelState {
    return { ...this.channel.state, origin: this.o.origin() };
  }

  update(): void {
    const remote = this.o.remote?.viewers(this.channel.id) ?? { viewers: 0, realtime: 0 };
    this.audience.set({ viewers: this.viewerSockets.size + remote.viewers, realtime: this.channel.realtime.count + remote.realtime });
  }

  broadcast(message: ChannelBroadcast): void {
    if (this.nsp) emitLocally(this.nsp, message);
    this.o.remote?.relay(this.channel.id, message);
  }
}

/**
 * Audiences of this instance's channels. The viewer count (every viewer, on any instance) is
 * pushed to everyone watching, coalesced to at most one update per interval.
 */
export class Audiences {
  private readonly byChannel = new Map<string, ChannelAudience>();

  constructor(private readonly o: AudienceOptions) {}

  /** Starts following a channel from its creation until it ends. */
  track(channel: Channel): void {
    const tracked = new ChannelAudience(channel, this.o);
    this.byChannel.set(channel.id, tracked);
    channel.once('ended', (reason) => {
      tracked.audience.dispose();
      this.byChannel.delete(channel.id);
      tracked.broadcast({ event: 'streamEnded', args: [{ reason }] });
      // Clients leave on streamEnded; disconnecting the stragglers a moment later lets
      // in-flight acks (e.g. the broadcaster's stopBroadcast) reach them first.
      const nsp = tracked.nsp;
      if (nsp) setTimeout(() => nsp.local.disconnectSockets(), 1000).unref();
      this.o.onChange(channel.id);
    });
  }

  /** The audience of a channel, as a socket joins its namespace. */
  join(channel: Channel, nsp: ChannelNamespace): ChannelAudience {
    let audience = this.byChannel.get(channel.id);
    if (!audience) {
      this.track(channel);
      audience = this.byChannel.get(channel.id)!;
    }
    // With cleanupEmptyChildNamespaces a channel's namespace object is re-created after it empties.
    audience.nsp = nsp;
    return audience;
  }

  /** Recounts a channel's audience (its viewers on other instances changed). */
  refresh(channelId: string): void {
    this.byChannel.get(channelId)?.update();
  }

  stateOf(channel: Channel): ChannelState {
    return { ...channel.state, origin: this.o.origin() };
  }

  audienceOf(channelId: string): Audience {
    return this.byChannel.get(channelId)?.audience.value ?? { viewers: 0, realtime: 0 };
  }

  viewersOf(channelId: string): number {
    return this.audienceOf(channelId).viewers;
  }

  /** Viewers on all channels of this instance, and how many of them watch in real time. */
  totals(): { viewers: number; realtime: number } {
    let viewers = 0;
    let realtime = 0;
    for (const a of this.byChannel.values()) {
      viewers += a.viewerSockets.size;
      realtime += a.channel.realtime.count;
    }
    return { viewers, realtime };
  }
}
