import type { Audience, ChannelBroadcast, ChannelState } from '../../../protocol/index.js';
import type { Channel } from '../channel/channel.js';
import { CoalescedValue } from './coalesced-value.js';
import type { PresenceSink } from './ports.js';
import type { SignallingNamespace, SignallingSocket } from './socket-types.js';

export const sameAudience = (a: Audience, b: Audience): boolean => a.viewers === b.viewers && a.realtime === b.realtime;

/** Sends an event to the namespace's sockets on this instance only. */
export function emitLocally(nsp: SignallingNamespace, message: ChannelBroadcast): void {
  // Each branch pairs an event with its own payload; spelled out so that the compiler checks each.
  if (message.event === 'channelState') nsp.local.emit('channelState', ...message.args);
  else if (message.event === 'viewerCount') nsp.local.emit('viewerCount', ...message.args);
  else nsp.local.emit('streamEnded', ...message.args);
}

export interface AudienceOptions {
  /** Viewer-count updates are coalesced to at most one per interval. */
  intervalMs: number;
  /** Where this instance's channels are served from, as viewers elsewhere must reach it (null: alone). */
  origin: string | null;
  presence: PresenceSink;
  /** The state or the audience of a channel changed, or it ended (the lobby's directory). */
  onChange: (channelId: string) => void;
}

/** Who watches one channel of this instance, and telling them. */
class ChannelAudience {
  readonly viewerSockets = new Set<string>();
  readonly audience: CoalescedValue<Audience>;
  /** The channel's namespace on this instance, once someone connected to it. */
  nsp: SignallingNamespace | null = null;

  constructor(
    readonly channel: Channel,
    private readonly o: AudienceOptions,
  ) {
    this.audience = new CoalescedValue<Audience>({ viewers: 0, realtime: 0 }, o.intervalMs, (audience) => {
      this.broadcast({ event: 'viewerCount', args: [audience] });
      this.changed();
    }, sameAudience);
    channel.on('state', () => {
      this.broadcast({ event: 'channelState', args: [this.state] });
      this.changed();
    });
    channel.on('realtimeViewers', () => this.update());
  }

  get state(): ChannelState {
    return { ...this.channel.state, origin: this.o.origin };
  }

  update(): void {
    const elsewhere = this.o.presence.viewersElsewhere(this.channel.id);
    // WHEP players watch without a socket: counted from the channel's real-time sessions.
    this.audience.set({ viewers: this.viewerSockets.size + this.channel.realtime.standaloneCount + elsewhere.viewers, realtime: this.channel.realtime.count + elsewhere.realtime });
  }

  broadcast(message: ChannelBroadcast): void {
    if (this.nsp) emitLocally(this.nsp, message);
    this.o.presence.relay(this.channel.id, message);
  }

  changed(): void {
    this.o.presence.changed(this.channel.id, { state: this.state, audience: this.audience.value, liveSince: this.channel.liveSince });
    this.o.onChange(this.channel.id);
  }
}

/**
 * Audiences of this instance's channels. The viewer count (every viewer, on any instance) is
 * pushed to everyone watching, coalesced to at most one update per interval.
 */
export class Audiences {
  private readonly byChannel = new Map<string, ChannelAudience>();

  constructor(private readonly o: AudienceOptions) {
    o.presence.onViewersElsewhere((channelId) => this.byChannel.get(channelId)?.update());
  }

  /** Follows a channel from its creation until it ends. */
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
      this.o.presence.changed(channel.id, null);
      this.o.onChange(channel.id);
    });
    tracked.changed();
  }

  /** A socket joined the channel's namespace: viewers are counted; everyone is told where things stand. */
  join(channel: Channel, socket: SignallingSocket, isViewer: boolean): void {
    const audience = this.byChannel.get(channel.id);
    if (!audience) return;
    // With cleanupEmptyChildNamespaces a channel's namespace object is re-created after it empties.
    audience.nsp = socket.nsp;
    if (isViewer) {
      audience.viewerSockets.add(socket.id);
      audience.update();
    }
    socket.emit('channelState', audience.state);
    socket.emit('viewerCount', audience.audience.value);
  }

  leave(channelId: string, socketId: string): void {
    const audience = this.byChannel.get(channelId);
    if (audience?.viewerSockets.delete(socketId)) audience.update();
  }

  viewersOf(channelId: string): number {
    return this.byChannel.get(channelId)?.audience.value.viewers ?? 0;
  }

  /** Viewers on all channels of this instance, and how many of them watch in real time. */
  totals(): Audience {
    let viewers = 0;
    let realtime = 0;
    for (const a of this.byChannel.values()) {
      viewers += a.viewerSockets.size + a.channel.realtime.standaloneCount;
      realtime += a.channel.realtime.count;
    }
    return { viewers, realtime };
  }
}
