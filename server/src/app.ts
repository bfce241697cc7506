import { mkdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Server as SocketServer } from 'socket.io';
import type { Config } from './config.js';
import { Cluster } from './cluster/cluster.js';
import { createHttpServer } from './http/http-server.js';
import type { Logger } from './logger.js';
import { ChannelRegistry } from './media/channel-registry.js';
import { PortAllocator, udpPortProbe } from './media/hls/port-allocator.js';
import { WorkerPool } from './media/worker-pool.js';
import { Metrics } from './metrics.js';
import { attachSignalling, type Signalling } from './signalling/signalling-server.js';

export interface App {
  /** http://host:port the server listens on. */
  url: string;
  config: Config;
  pool: WorkerPool;
  registry: ChannelRegistry;
  ports: PortAllocator;
  io: SocketServer;
  metrics: Metrics;
  close(): Promise<void>;
}

/** Composition root: media workers, channels, signalling and HTTP on one port. */
export async function startApp(config: Config, logger: Logger): Promise<App> {
  const runDir = path.join(os.tmpdir(), `livecast-${process.pid}-${config.PORT}`);
  await mkdir(config.HLS_DIR, { recursive: true });
  await mkdir(runDir, { recursive: true });

  // Connect to Redis first: a wrong REDIS_URL fails startup before any worker is spawned.
  const cluster = config.REDIS_URL
    ? await Cluster.connect({ redisUrl: config.REDIS_URL, channelTtlMs: config.CLUSTER_CHANNEL_TTL_MS, logger })
    : null;
  let origin = config.PUBLIC_URL?.replace(/\/$/, '') ?? '';
  const pool = await WorkerPool.start({
    size: config.MEDIASOUP_WORKERS,
    logger,
    portRange: { min: config.RTC_MIN_PORT, max: config.RTC_MAX_PORT },
  });
  const ports = new PortAllocator(config.HLS_RTP_MIN_PORT, config.HLS_RTP_MAX_PORT, udpPortProbe('127.0.0.1'));
  let signalling: Signalling | null = null;
  const metrics = new Metrics({
    channels: () => registry.list().map((c) => c.state),
    audience: () => signalling?.localViewers() ?? { viewers: 0, realtime: 0 },
    workerLoads: () => pool.loads(),
    hlsPortsInUse: () => ports.allocated,
  });
  const registry = new ChannelRegistry(
    pool,
    {
      listenIp: config.RTC_LISTEN_IP,
      announcedAddress: config.RTC_ANNOUNCED_ADDRESS,
      rtcMinPort: config.RTC_MIN_PORT,
      rtcMaxPort: config.RTC_MAX_PORT,
      idleTimeoutMs: config.CHANNEL_IDLE_TIMEOUT_MS,
      broadcasterGraceMs: config.BROADCASTER_GRACE_MS,
      realtimeLimit: config.REALTIME_VIEWERS_PER_CHANNEL,
      onFfmpegRestart: () => metrics.ffmpegRestarts.inc(),
      hls: {
        ports,
        hlsRoot: config.HLS_DIR,
        runDir,
        ffmpegPath: config.FFMPEG_PATH,
        segmentSeconds: config.HLS_SEGMENT_SECONDS,
        listSize: config.HLS_LIST_SIZE,
        maxRestarts: config.FFMPEG_MAX_RESTARTS,
        videoMode: config.HLS_VIDEO_MODE,
      },
    },
    config.MAX_CHANNELS,
    logger,
  );

  const httpServer = await createHttpServer({
    hlsRoot: config.HLS_DIR,
    segmentSeconds: config.HLS_SEGMENT_SECONDS,
    webBuildDir: config.WEB_BUILD_DIR,
    logger,
    playlists: (channelId) => registry.get(channelId)?.playlist,
    isLive: (channelId) => registry.get(channelId)?.ended === false,
    // A channel another instance carries: its HLS is served there (307 to its origin).
    originOf: cluster
      ? async (channelId) => {
          const record = await cluster.locate(channelId);
          const at = record?.state.origin;
          return at && at !== origin ? at : null;
        }
      : undefined,
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
    metricsToken: config.METRICS_TOKEN,
    timeouts: { headersMs: config.HTTP_HEADERS_TIMEOUT_MS, requestMs: config.HTTP_REQUEST_TIMEOUT_MS },
    // A cluster's pages load HLS from, and connect Socket.IO to, the instance that carries the
    // channel, whose origin is only known at run time (instances come and go), so there the CSP
    // allows any http(s)/ws(s) origin for fetches and media; scripts stay limited to the page's
    // own origin, which is what stops injected code. (An https page still cannot use http: or
    // ws:, mixed content.) Alone, a page talks to its own origin only.
    crossOriginSources: cluster ? ['http:', 'https:', 'ws:', 'wss:'] : [],
  });
  signalling = attachSignalling(httpServer, registry, logger, {
    publishKey: config.PUBLISH_KEY,
    createPerMinute: config.CHANNEL_CREATE_PER_MINUTE,
    onRequestError: (event) => metrics.requestErrors.inc({ event }),
    onChannelCreated: () => metrics.channelsCreated.inc(),
    cluster: cluster
      ? {
          cluster,
          origin: () => origin,
          relays: {
            pool,
            settings: { listenIp: config.RTC_LISTEN_IP, announcedAddress: config.RTC_ANNOUNCED_ADDRESS, rtcMinPort: config.RTC_MIN_PORT, rtcMaxPort: config.RTC_MAX_PORT },
            limit: config.REALTIME_VIEWERS_PER_CHANNEL,
            logger,
          },
        }
      : undefined,
  });
  const io = signalling.io;
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.PORT, config.HOST, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
  origin ||= url;
  logger.info({ url, workers: pool.size, cluster: cluster ? { instanceId: cluster.instanceId, origin } : false }, 'livecast listening');

  let closing: Promise<void> | null = null;
  return {
    url,
    config,
    pool,
    registry,
    ports,
    io,
    metrics,
    close: () =>
      (closing ??= (async () => {
        await registry.endAll('the server is shutting down');
        await signalling.stop();
        await new Promise<void>((resolve) => io.close(() => resolve()));
        pool.close();
        await cluster?.close();
        await rm(runDir, { recursive: true, force: true });
        logger.info('livecast stopped');
      })()),
  };
}
