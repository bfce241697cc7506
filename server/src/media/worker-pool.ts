import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from '../logger.js';
import { routerMediaCodecs } from './codecs.js';
import { pickLeastLoaded, type WorkerLoad } from './worker-choice.js';

interface Slot {
  worker: types.Worker;
  routers: number;
  consumers: number;
  /** Viewers placed here whose consumers are not made yet: each counts the consumers it will make. */
  reservations: { left: number }[];
}

/** The consumers a real-time viewer makes (audio and video). */
const VIEWER_CONSUMERS = 2;
/** A viewer that has not made its consumers by then (it never will, or it left unseen) stops counting. */
const RESERVATION_MS = 15_000;

const reservedOn = (slot: Slot) => slot.reservations.reduce((sum, r) => sum + r.left, 0);

export interface WorkerPoolOptions {
  size: number;
  logger: Logger;
  logLevel?: types.WorkerLogLevel;
  /**
   * Ports for every mediasoup socket that does not name its own range (the plain transports of
   * the HLS pipeline and RTP ingest). Without it mediasoup picks from 10000-59999, which overlaps
   * the ports the pipeline reserves for FFmpeg, and FFmpeg could find its port taken.
   */
  portRange: { min: number; max: number };
}

/**
 * One mediasoup worker (a C++ process, single-threaded) per core. Routers go to the least-loaded
 * worker. A worker that dies is replaced in its slot; its routers emit 'workerclose', which their
 * channels handle by ending themselves.
 */
export class WorkerPool {
  private readonly slots: (Slot | null)[];
  /** Which slot each open router is on (viewers of a channel are spread by it: see viewerSlot). */
  private readonly slotOfRouter = new WeakMap<types.Router, number>();
  private closed = false;

  private constructor(private readonly options: WorkerPoolOptions) {
    this.slots = new Array<Slot | null>(options.size).fill(null);
  }

  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(options);
    try {
      await Promise.all(pool.slots.map((_, index) => pool.fillSlot(index)));
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Live worker processes, for tests and metrics. */
  get workers(): types.Worker[] {
    return this.slots.filter((s): s is Slot => s !== null).map((s) => s.worker);
  }

  loads(): WorkerLoad[] {
    return this.slots.map((s) => (s ? { routers: s.routers, consumers: s.consumers } : { routers: Infinity, consumers: Infinity }));
  }

  /** Loads to place by: placed viewers count as the consumers they are about to make. */
  private placementLoads(): WorkerLoad[] {
    return this.slots.map((s) => (s ? { routers: s.routers, consumers: s.consumers + reservedOn(s) } : { routers: Infinity, consumers: Infinity }));
  }

  /** A router on the least-loaded worker: a channel's (the standard codecs), or one with `mediaCodecs` of its own. */
  async createRouter(appData: Record<string, unknown> = {}, mediaCodecs: types.RtpCodecCapability[] = routerMediaCodecs): Promise<types.Router> {
    return this.createRouterOn(pickLeastLoaded(this.placementLoads()), appData, mediaCodecs);
  }

  /**
   * Where the next real-time viewer of a channel whose router is `home` should be: the slot of
   * the worker with the fewest consumers, `home`'s own on a tie (no pipe needed there). Consumers
   * are what a worker's load grows with (each one forwards every packet of its track), and the
   * pipes that carry a channel to other workers are counted too, on both sides. A viewer counts
   * from the moment it is placed, as the consumers it will make: a burst of viewers joining at
   * once (a link shared in a chat) would otherwise all land on the worker that looked emptiest.
   * `cancel` when the viewer goes before making them.
   */
  viewerSlot(home: types.Router): { slot: number; home: boolean; cancel: () => void } {
    const homeSlot = this.slotOfRouter.get(home) ?? -1;
    const loads = this.placementLoads();
    let best = homeSlot;
    for (let i = 0; i < loads.length; i++) {
      if (best === -1 || loads[i]!.consumers < loads[best]!.consumers) best = i;
    }
    const slot = best === -1 ? null : this.slots[best];
    const reservation = { left: VIEWER_CONSUMERS };
    slot?.reservations.push(reservation);
    const cancel = () => {
      clearTimeout(timer);
      if (slot) slot.reservations = slot.reservations.filter((r) => r !== reservation);
    };
    const timer = setTimeout(cancel, RESERVATION_MS);
    timer.unref();
    return { slot: best, home: best === homeSlot, cancel };
  }

  /** A router on the worker in `index` (see viewerSlot). */
  async createRouterOn(index: number, appData: Record<string, unknown> = {}, mediaCodecs: types.RtpCodecCapability[] = routerMediaCodecs): Promise<types.Router> {
    const slot = index === -1 ? null : this.slots[index];
    if (!slot || slot.worker.closed) throw new Error('no media worker is available, try again shortly');
    const router = await slot.worker.createRouter({ mediaCodecs, appData });
    this.slotOfRouter.set(router, index);
    slot.routers++;
    router.observer.once('close', () => slot.routers--);
    router.observer.on('newtransport', (transport) => {
      transport.observer.on('newconsumer', (consumer) => {
        slot.consumers++;
        // A placed viewer's consumer: it now counts as itself.
        const reservation = slot.reservations.find((r) => r.left > 0);
        if (reservation && --reservation.left === 0) slot.reservations = slot.reservations.filter((r) => r !== reservation);
        consumer.observer.once('close', () => slot.consumers--);
      });
    });
    return router;
  }

  close(): void {
    this.closed = true;
    for (const slot of this.slots) slot?.worker.close();
    this.slots.fill(null);
  }

  private async fillSlot(index: number): Promise<void> {
    const { logger } = this.options;
    const worker = await mediasoup.createWorker({
      logLevel: this.options.logLevel ?? 'warn',
      rtcMinPort: this.options.portRange.min,
      rtcMaxPort: this.options.portRange.max,
      appData: { slot: index },
    });
    if (this.closed) {
      worker.close();
      return;
    }
    this.slots[index] = { worker, routers: 0, consumers: 0, reservations: [] };
    logger.info({ slot: index, workerPid: worker.pid }, 'mediasoup worker started');
    worker.on('died', (error) => {
      logger.error({ slot: index, workerPid: worker.pid, err: error }, 'mediasoup worker died; replacing it');
      this.slots[index] = null;
      void this.replace(index);
    });
  }

  private async replace(index: number, attempt = 1): Promise<void> {
    if (this.closed) return;
    try {
      await this.fillSlot(index);
    } catch (error) {
      const delayMs = Math.min(30_000, 500 * 2 ** attempt);
      this.options.logger.error({ slot: index, err: error, attempt, delayMs }, 'could not restart mediasoup worker');
      setTimeout(() => void this.replace(index, attempt + 1), delayMs).unref();
    }
  }
}
