import type { types } from 'mediasoup';
import type { Logger } from '../logger.js';
import { oneAtATime } from '../media/one-at-a-time.js';
import { createPipe, endpointOf, type PipeEndpoint, type PipeOffer } from './pipe-origin.js';
import { RealtimeViewers } from '../readers/realtime/realtime-viewers.js';
import type { WebRtcListenSettings } from '../media/webrtc-transport.js';
import type { WorkerPool } from '../media/worker-pool.js';

/** Asks the owning instance to pipe the channel's tracks to `here`. */
export type RequestPipe = (here: PipeEndpoint) => Promise<PipeOffer>;

/**
 * The piped track without PLI/FIR feedback: this instance's mediasoup then never sends key-frame
 * requests up the pipe by itself; they go to the owner as messages instead (see requestKeyFrame).
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
 */
export class EdgeChannel {
  readonly realtime: RealtimeViewers;
  private readonly producers = new Map<string, types.Producer>();
  /** Offers are adopted one at a time (two viewers joining at once must not produce a track twice). */
  private readonly adopt = oneAtATime((offer: PipeOffer) => this.adoptNow(offer));

  private constructor(
    readonly channelId: string,
    readonly router: types.Router,
    private readonly pipe: types.PipeTransport,
    private readonly requestPipe: RequestPipe,
    settings: WebRtcListenSettings,
    limit: number,
    logger: Logger,
    onRealtimeChange: () => void,
    requestKeyFrame: () => void,
  ) {
    this.realtime = new RealtimeViewers(router, settings, limit, logger, onRealtimeChange, {
      requestKeyFrame,
      // Asked before a viewer's consumer is resumed; the owner sends it when the encoder honours it.
      keyFrameWindow: async () => requestKeyFrame(),
    });
  }

  static async open(o: {
    channelId: string;
    pool: WorkerPool;
    settings: WebRtcListenSettings;
    limit: number;
    logger: Logger;
    requestPipe: RequestPipe;
    requestKeyFrame: () => void;
    onRealtimeChange: () => void;
  }): Promise<EdgeChannel> {
    const router = await o.pool.createRouter({ channelId: o.channelId, edge: true });
    try {
      const pipe = await createPipe(router, o.settings, { edgeOf: o.channelId });
      const edge = new EdgeChannel(o.channelId, router, pipe, o.requestPipe, o.settings, o.limit, o.logger, o.onRealtimeChange, o.requestKeyFrame);
      const offer = await o.requestPipe(endpointOf(pipe));
      await pipe.connect({ ip: offer.ip, port: offer.port });
      await edge.adopt(offer);
      o.logger.info({ channelId: o.channelId, tracks: edge.producers.size }, 'relaying a channel of another instance for real-time viewers');
      return edge;
    } catch (error) {
      router.close();
      throw error;
    }
  }

  get closed(): boolean {
    return this.router.closed;
  }

  /** The relayed tracks, after asking the owner for any that appeared since the last time. */
  async liveProducers(): Promise<types.Producer[]> {
    await this.adopt(await this.requestPipe(endpointOf(this.pipe)));
    return [...this.producers.values()].filter((p) => !p.closed);
  }

  close(): void {
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

export interface EdgeChannelsOptions {
  pool: WorkerPool;
  settings: WebRtcListenSettings;
  /** Real-time viewers per relay, as per channel on its owner. */
  limit: number;
  logger: Logger;
  requestPipe: (channelId: string, here: PipeEndpoint) => Promise<PipeOffer>;
  requestKeyFrame: (channelId: string) => void;
  closePipe: (channelId: string) => void;
  onRealtimeChange: (channelId: string) => void;
}

/** The relays this instance keeps, one per channel of another instance watched here in real time. */
export class EdgeChannels {
  private readonly edges = new Map<string, Promise<EdgeChannel>>();
  private readonly opened = new Map<string, EdgeChannel>();

  constructor(private readonly o: EdgeChannelsOptions) {}

  /** The relay of a channel, opened on first use. */
  get(channelId: string): Promise<EdgeChannel> {
    if (this.opened.get(channelId)?.closed) {
      // Its router went with a mediasoup worker that died: open a new relay.
      this.edges.delete(channelId);
      this.opened.delete(channelId);
      this.o.closePipe(channelId);
    }
    let edge = this.edges.get(channelId);
    if (!edge) {
      edge = EdgeChannel.open({
        channelId,
        pool: this.o.pool,
        settings: this.o.settings,
        limit: this.o.limit,
        logger: this.o.logger,
        requestPipe: (here) => this.o.requestPipe(channelId, here),
        requestKeyFrame: () => this.o.requestKeyFrame(channelId),
        onRealtimeChange: () => this.o.onRealtimeChange(channelId),
      });
      const opening = edge;
      this.edges.set(channelId, opening);
      opening.then(
        (e) => {
          if (this.edges.get(channelId) === opening) this.opened.set(channelId, e);
        },
        // A failed opening is forgotten, so that the next viewer tries again.
        () => this.edges.get(channelId) === opening && this.edges.delete(channelId),
      );
    }
    return edge;
  }

  /** The relay if it is open (no opening on the way). */
  async existing(channelId: string): Promise<EdgeChannel | undefined> {
    return this.edges.get(channelId)?.catch(() => undefined);
  }

  /** Real-time viewers of a channel watching through this instance's relay. */
  realtimeCount(channelId: string): number {
    return this.opened.get(channelId)?.realtime.count ?? 0;
  }

  close(channelId: string): void {
    const edge = this.edges.get(channelId);
    if (!edge) return;
    this.edges.delete(channelId);
    this.opened.delete(channelId);
    void edge.then(
      (e) => {
        e.close();
        this.o.closePipe(channelId);
      },
      () => undefined,
    );
  }

  get size(): number {
    return this.edges.size;
  }

  get realtimeTotal(): number {
    let total = 0;
    for (const edge of this.opened.values()) total += edge.realtime.count;
    return total;
  }

  closeAll(): void {
    for (const channelId of [...this.edges.keys()]) this.close(channelId);
  }
}
