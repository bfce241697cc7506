import type { types } from 'mediasoup';
import type { ChannelMedia } from '../../channel/reader.js';
import type { EgressPlan } from './payload-types.js';

/** A router and the channel's tracks on it, for one viewer; `release` when the viewer is gone. */
export interface ViewerRoute {
  router: types.Router;
  tracks(): types.Producer[];
  release(): void;
}

/** Makes a router with the given media codecs (on any worker: tracks reach it through pipes). */
export type RouterFactory = (mediaCodecs: types.RtpCodecCapability[]) => Promise<types.Router>;

interface Egress {
  ready: Promise<{ router: types.Router; tracks: types.Producer[] }>;
  users: number;
}

/**
 * Routers that carry the channel's tracks under other payload types (see payload-types.ts): one
 * per layout, fed from the channel router through pipes, shared by every viewer with that layout
 * and closed with its last viewer (or with the channel). Viewers whose layout is the channel
 * router's own use the channel router.
 */
export class EgressRouters {
  private readonly byKey = new Map<string, Egress>();
  private closed = false;

  constructor(
    private readonly media: ChannelMedia,
    private readonly createRouter: RouterFactory,
  ) {}

  /** Routers open now, for tests and leak checks. */
  get size(): number {
    return this.byKey.size;
  }

  async route(plan: EgressPlan): Promise<ViewerRoute> {
    if (plan.same) return { router: this.media.router, tracks: () => this.media.tracks(), release: () => undefined };
    let egress = this.byKey.get(plan.key);
    if (!egress) {
      const created: Egress = { ready: this.open(plan), users: 0 };
      egress = created;
      this.byKey.set(plan.key, created);
      created.ready.catch(() => this.byKey.get(plan.key) === created && this.byKey.delete(plan.key));
    }
    egress.users++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (--egress.users > 0) return;
      if (this.byKey.get(plan.key) === egress) this.byKey.delete(plan.key);
      void egress.ready.then(({ router }) => router.close(), () => undefined);
    };
    try {
      const { router, tracks } = await egress.ready;
      return { router, tracks: () => tracks.filter((p) => !p.closed), release };
    } catch (error) {
      release();
      throw error;
    }
  }

  private async open(plan: EgressPlan): Promise<{ router: types.Router; tracks: types.Producer[] }> {
    const router = await this.createRouter(plan.mediaCodecs);
    try {
      const tracks = await pipeTracks(this.media.router, router, this.media.tracks());
      if (this.closed) throw new Error('the channel has ended');
      this.media.logger.debug({ layout: plan.key }, 'egress router opened for players with other payload types');
      return { router, tracks };
    } catch (error) {
      router.close();
      throw error;
    }
  }

  close(): void {
    this.closed = true;
    for (const egress of this.byKey.values()) void egress.ready.then(({ router }) => router.close(), () => undefined);
    this.byKey.clear();
  }
}

/**
 * Copies `producers` from one router into another over a pair of local pipe transports. Not
 * `router.pipeToRouter`: in mediasoup 3.15 it keeps the producers' ids, which collide when both
 * routers are on the same worker. Each side's transport closes with the other.
 */
export async function pipeTracks(from: types.Router, to: types.Router, producers: types.Producer[]): Promise<types.Producer[]> {
  const listenInfo = { protocol: 'udp' as const, ip: '127.0.0.1' };
  const out = await from.createPipeTransport({ listenInfo, appData: { egressTo: to.id } });
  const into = await to.createPipeTransport({ listenInfo, appData: { egressFrom: from.id } }).catch((error: unknown) => {
    out.close();
    throw error;
  });
  out.observer.once('close', () => into.close());
  into.observer.once('close', () => out.close());
  await out.connect({ ip: into.tuple.localAddress, port: into.tuple.localPort });
  await into.connect({ ip: out.tuple.localAddress, port: out.tuple.localPort });
  const piped: types.Producer[] = [];
  for (const producer of producers) {
    const consumer = await out.consume({ producerId: producer.id });
    const copy = await into.produce({ kind: consumer.kind, rtpParameters: consumer.rtpParameters, paused: consumer.producerPaused });
    consumer.observer.once('close', () => copy.close());
    consumer.on('producerpause', () => void copy.pause());
    consumer.on('producerresume', () => void copy.resume());
    piped.push(copy);
  }
  return piped;
}
