import type { types } from 'mediasoup';
import type { ChannelMedia } from '../../channel/reader.js';
import { pipeTracks, type ViewerRoute } from './egress-routers.js';

/**
 * Where a channel's real-time viewers go (the worker pool implements it): the worker for the next
 * viewer of a channel whose router is `home`, and a router on a given worker.
 */
export interface ViewerPlacement {
  /** `cancel`: the viewer went before making its consumers. */
  viewerSlot(home: types.Router): { slot: number; home: boolean; cancel: () => void };
  createRouterOn(slot: number, channelId: string): Promise<types.Router>;
}

interface FanOut {
  slot: number;
  ready: Promise<{ router: types.Router; tracks: types.Producer[] }>;
  /** The piped tracks once ready (to tell when the broadcaster's tracks changed under them). */
  tracks: types.Producer[] | null;
  users: number;
}

/**
 * Spreads one channel's real-time viewers over every mediasoup worker. One router on one worker
 * carries a few hundred consumers (mediasoup's guidance: ~500 per worker; beyond ~200–300 viewers
 * of one producer, pipe it to routers on other workers), so a popular channel would be bounded by
 * one core while the others idle. Each viewer goes to the least-loaded worker (WorkerPool.viewerSlot):
 * the channel's own router, or the channel's router on that worker, fed from the channel router
 * through a pipe (what `router.pipeToRouter` does; pipeTracks does it by hand because mediasoup
 * 3.15 keeps the producer ids, which collide on a shared worker). A fan-out router is made on
 * demand, shared by the channel's viewers on its worker and closed with the last of them (or with
 * the channel). Key-frame requests of its consumers travel back through the pipe to the source
 * (mediasoup forwards a pipe consumer's PLI to its producer), still paced by the channel's
 * KeyFrameTiming because readers ask through ChannelMedia.requestKeyFrame.
 */
export class FanOutRouters {
  private readonly bySlot = new Map<number, FanOut>();
  private closed = false;

  constructor(
    private readonly media: ChannelMedia,
    private readonly placement: ViewerPlacement | null,
  ) {}

  /** Fan-out routers open now (for tests and leak checks). */
  get size(): number {
    return this.bySlot.size;
  }

  /** Where the next viewer goes; `release` when it is gone. */
  async route(): Promise<ViewerRoute> {
    const home: ViewerRoute = { router: this.media.router, tracks: () => this.media.tracks(), release: () => undefined };
    if (!this.placement || this.closed) return home;
    const { slot, home: atHome, cancel } = this.placement.viewerSlot(this.media.router);
    if (atHome) return { ...home, release: cancel };
    let fanOut = this.bySlot.get(slot);
    // The broadcaster's tracks changed (a reconnect, the transcoder restarted): the pipe carries
    // the old ones. New viewers get a fresh router; the old one closes with its last viewer.
    if (fanOut?.tracks && this.stale(fanOut.tracks)) {
      this.bySlot.delete(slot);
      fanOut = undefined;
    }
    if (!fanOut) {
      const created: FanOut = { slot, ready: this.open(slot), tracks: null, users: 0 };
      fanOut = created;
      this.bySlot.set(slot, created);
      created.ready.then(
        ({ tracks }) => (created.tracks = tracks),
        () => this.bySlot.get(slot) === created && this.bySlot.delete(slot),
      );
    }
    const taken = fanOut;
    taken.users++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      cancel();
      if (--taken.users > 0) return;
      if (this.bySlot.get(slot) === taken) this.bySlot.delete(slot);
      void taken.ready.then(({ router }) => router.close(), () => undefined);
    };
    try {
      const { router, tracks } = await taken.ready;
      return { router, tracks: () => tracks.filter((p) => !p.closed), release };
    } catch (error) {
      release();
      throw error;
    }
  }

  close(): void {
    this.closed = true;
    for (const fanOut of this.bySlot.values()) void fanOut.ready.then(({ router }) => router.close(), () => undefined);
    this.bySlot.clear();
  }

  private stale(tracks: types.Producer[]): boolean {
    return tracks.some((p) => p.closed) || tracks.length < this.media.tracks().length;
  }

  private async open(slot: number): Promise<{ router: types.Router; tracks: types.Producer[] }> {
    const router = await this.placement!.createRouterOn(slot, this.media.channelId);
    try {
      const tracks = await pipeTracks(this.media.router, router, this.media.tracks());
      if (this.closed) throw new Error('the channel has ended');
      this.media.logger.debug({ slot }, 'fan-out router opened for real-time viewers on another worker');
      return { router, tracks };
    } catch (error) {
      router.close();
      throw error;
    }
  }
}
