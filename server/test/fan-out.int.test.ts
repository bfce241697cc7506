import dgram from 'node:dgram';
import type { types } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, startFedChannel, type FedChannel } from './helpers/test-app.js';
import type { TestServer } from './helpers/server.js';
import { eventually } from './helpers/processes.js';

/** Router ids on each worker of the pool, from the workers themselves (not from our bookkeeping). */
async function routersByWorker(app: TestServer): Promise<string[][]> {
  return Promise.all(app.pool.workers.map(async (w) => ((await w.dump()) as { routerIds: string[] }).routerIds));
}

describe('a channel’s real-time viewers spread over every worker (2 real mediasoup workers)', () => {
  let app: TestServer;
  let fed: FedChannel;

  beforeAll(async () => {
    app = await startTestApp({ MEDIASOUP_WORKERS: '2', REALTIME_VIEWERS_PER_CHANNEL: '100' });
    fed = await startFedChannel(app);
  }, 60_000);

  afterAll(async () => {
    await fed?.stop();
    await app?.stop();
  });

  it('places viewers on both workers through a pipe router made on demand, and closes it after the last viewer without leaking', async () => {
    const { channel } = fed;
    const realtime = channel.realtime;
    const home = channel.router;
    const homeTransportsBefore = ((await home.dump()) as { transportIds: string[] }).transportIds.length;
    const routersBefore = await routersByWorker(app);
    const caps = home.rtpCapabilities;

    for (let cycle = 0; cycle < 2; cycle++) {
      const viewers = Array.from({ length: 8 }, (_, i) => `cycle${cycle}-viewer${i}`);
      for (const viewerId of viewers) {
        await realtime.createTransport(viewerId);
        await realtime.consume(viewerId, caps);
      }
      // Two routers carry viewers: the channel's and one on the other worker.
      const byRouter = realtime.viewersByRouter();
      expect(byRouter.size).toBe(2);
      expect([...byRouter.values()].every((n) => n >= 2)).toBe(true);
      expect(realtime.fanOutRouters).toBe(1);
      const fanOutRouterId = [...byRouter.keys()].find((id) => id !== home.id)!;
      const workers = await routersByWorker(app);
      const homeWorker = workers.findIndex((ids) => ids.includes(home.id));
      const otherWorker = workers.findIndex((ids) => ids.includes(fanOutRouterId));
      expect(homeWorker).toBeGreaterThanOrEqual(0);
      expect(otherWorker).toBeGreaterThanOrEqual(0);
      expect(otherWorker).not.toBe(homeWorker);

      for (const viewerId of viewers) realtime.leave(viewerId);
      await eventually(() => realtime.count === 0 && realtime.fanOutRouters === 0, 'the viewers and the fan-out router to be gone', 5000);
      // The workers hold exactly what they held before: the fan-out router closed, and the pipe's
      // side on the channel router with it.
      await eventually(async () => JSON.stringify(await routersByWorker(app)) === JSON.stringify(routersBefore), 'the fan-out router to close on its worker', 5000);
      await eventually(async () => ((await home.dump()) as { transportIds: string[] }).transportIds.length === homeTransportsBefore, 'the pipe transport on the channel router to close', 5000);
    }
    expect(channel.state.phase).toBe('live');
  }, 60_000);

  it('spreads a burst of viewers joining at the same moment over both workers (a viewer counts from the moment it is placed)', async () => {
    const realtime = fed.channel.realtime;
    const caps = fed.channel.router.rtpCapabilities;
    const viewers = Array.from({ length: 10 }, (_, i) => `burst-${i}`);
    // All placed before any of them has made a consumer: counting consumers alone put every one
    // of them on the worker that looked emptiest.
    await Promise.all(viewers.map((id) => realtime.createTransport(id)));
    await Promise.all(viewers.map((id) => realtime.consume(id, caps)));
    const counts = [...realtime.viewersByRouter().values()].sort((a, b) => a - b);
    expect(counts, `viewers per router: ${counts.join(', ')}`).toHaveLength(2);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2);
    for (const id of viewers) realtime.leave(id);
    await eventually(() => realtime.count === 0 && realtime.fanOutRouters === 0, 'the burst’s viewers and fan-out router to be gone', 5000);
  }, 60_000);

  it('carries a key-frame request made on a fan-out router (through the channel’s paced path) back through the pipe to the source', async () => {
    const { channel } = fed;
    const realtime = channel.realtime;
    const caps = channel.router.rtpCapabilities;
    const source = channel.tracks().find((p) => p.kind === 'video')!;
    // The piped video producer on the fan-out router, seen from the worker's side.
    const piped: types.Producer[] = [];
    const fanOutRouters: types.Router[] = [];
    for (const worker of app.pool.workers) {
      worker.observer.on('newrouter', (router) => {
        fanOutRouters.push(router);
        router.observer.on('newtransport', (transport) => transport.observer.on('newproducer', (p) => p.kind === 'video' && piped.push(p)));
      });
    }
    const viewers = ['kf-a', 'kf-b', 'kf-c', 'kf-d'];
    for (const viewerId of viewers) {
      await realtime.createTransport(viewerId);
      await realtime.consume(viewerId, caps);
    }
    await eventually(() => piped.length === 1, 'the video to be piped to a fan-out router', 5000);
    const router = fanOutRouters.find((r) => !r.closed && realtime.viewersByRouter().has(r.id))!;
    expect(router, 'the fan-out router a viewer is on').toBeDefined();
    // A connected reader on the fan-out router (a WebRTC viewer's consumer only asks once DTLS is up).
    const sink = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
    const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
    try {
      await transport.connect({ ip: '127.0.0.1', port: sink.address().port });
      const consumer = await transport.consume({ producerId: piped[0]!.id, rtpCapabilities: caps });
      const plis = async () => (await source.getStats()).reduce((n, s) => n + (s.pliCount ?? 0), 0);
      // Past the pacing window of the last key frame the source sent: the request goes at once.
      await channel.keyFrameWindow();
      const before = await plis();
      channel.requestKeyFrame(consumer);
      await eventually(async () => (await plis()) > before, 'a PLI to reach the source from the fan-out router', 2000);
    } finally {
      transport.close();
      sink.close();
      for (const viewerId of viewers) realtime.leave(viewerId);
    }
    await eventually(() => realtime.count === 0 && realtime.fanOutRouters === 0, 'the viewers and fan-out router to be gone', 5000);
  }, 60_000);

  it('refuses a viewer beyond the limit without making a router for it', async () => {
    const small = await startTestApp({ MEDIASOUP_WORKERS: '2', REALTIME_VIEWERS_PER_CHANNEL: '1' });
    const other = await startFedChannel(small);
    try {
      const realtime = other.channel.realtime;
      await realtime.createTransport('first');
      const before = await routersByWorker(small);
      await expect(realtime.createTransport('second')).rejects.toThrow(/full/);
      expect(await routersByWorker(small)).toEqual(before);
      realtime.leave('first');
      await eventually(() => realtime.count === 0 && realtime.fanOutRouters === 0, 'the viewer to be gone', 5000);
    } finally {
      await other.stop();
      await small.stop();
    }
  }, 60_000);
});
