import type { types } from 'mediasoup';
import type { VideoLayer } from '../../../protocol/index.js';
import type { ChannelMedia } from '../channel/reader.js';
import { videoLayers } from '../media/video-layers.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { oneAtATime } from '../media/one-at-a-time.js';
import type { WorkerPool } from '../media/worker-pool.js';
import type { RouterFactory } from '../readers/realtime/egress-routers.js';
import { RealtimeViewers } from '../readers/realtime/realtime-viewers.js';
import type { ClusterBus } from './bus.js';
import type { PipeOffer } from './messages.js';
import { createPipe, endpointOf } from './pipe-origin.js';

/**
 * The piped track without PLI/FIR feedback: this instance's mediasoup then never sends key-frame
 * requests up the pipe by itself; they go to the owner as messages instead (see keyFrame).
 */
function withoutKeyFrameFeedback(rtpParameters: types.RtpParameters): types.RtpParameters {
  return {
    ...rtpParameters,
    codecs: rtpParameters.codecs.map((codec) => ({
      ...codec,
      rtcpFeedback: codec.rtcpFeedback?.filter((fb) => !(fb.type === 'nack' && fb.parameter === 'pli') && fb.type !== 'ccm'),
    })),
  };
}

/**
 * A channel carried by another instance, relayed into a router of this one so that viewers who
 * reached this instance can watch it in real time here: the owner's tracks arrive over a
 * PipeTransport (same producer ids) and each viewer gets a WebRTC transport on the local router.
 * The relay is the real-time viewers' channel: it owns the router, the pipe and the viewers.
 */
export class Relay implements ChannelMedia {
  readonly realtime: RealtimeViewers;
  private readonly producers = new Map<string, types.Producer>();
  /** Offers are adopted one at a time (two viewers joining at once must not produce a track twice). */
  private readonly adopt = oneAtATime((offer: PipeOffer) => this.adoptNow(offer));

  private constructor(
    readonly channelId: string,
    readonly router: types.Router,
    private readonly pipe: types.PipeTransport,
    private readonly bus: ClusterBus,
    rtc: Config['rtc'],
    limit: number,
    readonly logger: Logger,
    onRealtimeChange: () => void,
    createRouter: RouterFactory,
  ) {
    this.realtime = new RealtimeViewers(this, rtc, limit, onRealtimeChange, createRouter);
  }

  static async open(o: {
    channelId: string;
    pool: WorkerPool;
    rtc: Config['rtc'];
    limit: number;
    logger: Logger;
    bus: ClusterBus;
    onRealtimeChange: () => void;
  }): Promise<Relay> {
    const router = await o.pool.createRouter({ channelId: o.channelId, relay: true });
    try {
      const pipe = await createPipe(router, o.rtc, { relayOf: o.channelId });
      const relay = new Relay(o.channelId, router, pipe, o.bus, o.rtc, o.limit, o.logger.child({ channelId: o.channelId, relay: true }), o.onRealtimeChange, (codecs) =>
        o.pool.createRouter({ channelId: o.channelId, egress: true }, codecs),
      );
      const offer = await o.bus.requestPipe(o.channelId, endpointOf(pipe));
      await pipe.connect({ ip: offer.ip, port: offer.port });
      await relay.adopt(offer);
      relay.logger.info({ tracks: relay.producers.size }, 'relaying a channel of another instance for real-time viewers');
      return relay;
    } catch (error) {
      router.close();
      throw error;
    }
  }

  get closed(): boolean {
    return this.router.closed;
  }

  tracks(): types.Producer[] {
    return [...this.producers.values()].filter((p) => !p.closed);
  }

  /** The relayed video's layers; their heights stay with the owner. */
  videoLayers(): VideoLayer[] {
    const video = this.tracks().find((p) => p.kind === 'video');
    return video ? videoLayers(video.rtpParameters, null) : [];
  }

  /** The owner has the tracks, or makes them when asked for a pipe (see PipeOrigin). */
  ensureTracks(): Promise<void> {
    return Promise.resolve();
  }

  releaseTracks(): void {}

  /** Asks the owner for any track that appeared since the last time. */
  async refreshTracks(): Promise<void> {
    await this.adopt(await this.bus.requestPipe(this.channelId, endpointOf(this.pipe)));
  }

  /** The owner sends it when the broadcaster's encoder will honour it (see KeyFrameTiming). */
  requestKeyFrame(): void {
    this.bus.keyFrame(this.channelId);
  }

  /** Asked before a viewer's consumer is resumed; the owner times it. */
  async keyFrameWindow(): Promise<void> {
    this.requestKeyFrame();
  }

  close(): void {
    this.realtime.close();
    this.router.close();
  }

  private async adoptNow(offer: PipeOffer): Promise<void> {
    for (const p of offer.producers) {
      if (this.producers.has(p.id)) continue;
      const rtpParameters = p.kind === 'video' ? withoutKeyFrameFeedback(p.rtpParameters) : p.rtpParameters;
      const producer = await this.pipe.produce({ id: p.id, kind: p.kind, rtpParameters, paused: p.paused });
      this.producers.set(p.id, producer);
      producer.observer.once('close', () => this.producers.delete(p.id));
    }
  }
}

export interface RelaysOptions {
  pool: WorkerPool;
  rtc: Config['rtc'];
  /** Real-time viewers per relay, as per channel on its owner. */
  limit: number;
  bus: ClusterBus;
  logger: Logger;
  onRealtimeChange: (channelId: string) => void;
}

/** The relays this instance keeps, one per channel of another instance watched here in real time. */
export class Relays {
  private readonly opening = new Map<string, Promise<Relay>>();
  private readonly opened = new Map<string, Relay>();

  constructor(private readonly o: RelaysOptions) {}

  /** The relay of a channel, opened on first use. */
  get(channelId: string): Promise<Relay> {
    if (this.opened.get(channelId)?.closed) {
      // Its router went with a mediasoup worker that died: open a new relay.
      this.opening.delete(channelId);
      this.opened.delete(channelId);
      this.o.bus.closePipe(channelId);
    }
    let relay = this.opening.get(channelId);
    if (!relay) {
      relay = Relay.open({ ...this.o, channelId, onRealtimeChange: () => this.o.onRealtimeChange(channelId) });
      const pending = relay;
      this.opening.set(channelId, pending);
      pending.then(
        (r) => {
          if (this.opening.get(channelId) === pending) this.opened.set(channelId, r);
        },
        // A failed opening is forgotten, so that the next viewer tries again.
        () => this.opening.get(channelId) === pending && this.opening.delete(channelId),
      );
    }
    return relay;
  }

  /** The relay if it is open (no opening on the way). */
  existing(channelId: string): Relay | undefined {
    return this.opened.get(channelId);
  }

  /** Real-time viewers of a channel watching through this instance's relay. */
  realtimeCount(channelId: string): number {
    return this.opened.get(channelId)?.realtime.count ?? 0;
  }

  close(channelId: string): void {
    const relay = this.opening.get(channelId);
    if (!relay) return;
    this.opening.delete(channelId);
    this.opened.delete(channelId);
    void relay.then(
      (r) => {
        r.close();
        this.o.bus.closePipe(channelId);
      },
      () => undefined,
    );
  }

  get realtimeTotal(): number {
    let total = 0;
    for (const relay of this.opened.values()) total += relay.realtime.count;
    return total;
  }

  closeAll(): void {
    for (const channelId of [...this.opening.keys()]) this.close(channelId);
  }
}
