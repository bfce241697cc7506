import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ChannelRegistry } from './channel/channel-registry.js';
import { Cluster } from './cluster/cluster.js';
import { plugInCluster } from './cluster/plug-in.js';
import type { Config } from './config.js';
import { ClientAddresses } from './http/client-address.js';
import { createHttpServer } from './http/http-server.js';
import { ClientLimits } from './limits/client-limits.js';
import { guardConnections } from './limits/connection-guard.js';
import type { Logger } from './logger.js';
import { WorkerPool } from './media/worker-pool.js';
import { Metrics } from './metrics.js';
import { removeLeftovers, runDirPrefix } from './readers/hls/leftovers.js';
import { DrainingStreams } from './readers/hls/draining-streams.js';
import { PortAllocator, udpPortProbe } from './readers/hls/port-allocator.js';
import { RtmpServer } from './rtmp/rtmp-server.js';
import { RecordingStore } from './readers/recording/recording-store.js';
import { recordingsRoute, type RecordingsElsewhere } from './http/recordings-route.js';
import { shareRecordings } from './cluster/recording-holdings.js';
import { noPresenceElsewhere } from './signalling/ports.js';
import { createSocketServer, serveSignalling } from './signalling/signalling-server.js';
import type { SignallingServer } from './signalling/socket-types.js';
import { whepRoute } from './whep/whep-route.js';
import { whipRoute } from './whip/whip-route.js';

export interface App {
  /** http://host:port the server listens on (https:// with TLS_CERT / TLS_KEY). */
  url: string;
  config: Config;
  pool: WorkerPool;
  registry: ChannelRegistry;
  ports: PortAllocator;
  /** RTMP ingest (null: RTMP_PORT=0). */
  rtmp: RtmpServer | null;
  io: SignallingServer;
  metrics: Metrics;
  limits: ClientLimits;
  /** This instance's recordings; null with RECORDINGS=off. */
  recordings: RecordingStore | null;
  close(): Promise<void>;
}

/** A WHIP or WHEP offer is 2–8 KB; 64 KB leaves room for many codecs and candidates, and no more. */
const MAX_OFFER_BYTES = 64 * 1024;
/** A WHEP player that has not completed ICE and DTLS by then is gone (nothing else would notice). */
const WHEP_CONNECT_WITHIN_MS = 10_000;

/**
 * Composition root: media workers, channels, HTTP and signalling on one port. The cluster, when
 * REDIS_URL is set, is built here and plugged in through the interfaces signalling declares;
 * without it nothing of cluster/ is constructed.
 */
export async function startApp(config: Config, logger: Logger): Promise<App> {
  await removeLeftovers(config.hls.dir, os.tmpdir(), logger);
  const runDir = await mkdtemp(path.join(os.tmpdir(), runDirPrefix()));
  await mkdir(config.hls.dir, { recursive: true });

  // Connect to Redis first: a wrong REDIS_URL fails startup before any worker is spawned.
  const cluster = config.cluster ? await Cluster.connect(config.cluster, logger) : null;
  const pool = await WorkerPool.start({ size: config.rtc.workers, logger, portRange: { min: config.rtc.minPort, max: config.rtc.maxPort } });
  const draining = new DrainingStreams();
  const { rtpMinPort, rtpMaxPort } = config.hls;
  const ports = new PortAllocator(rtpMinPort, rtpMaxPort, udpPortProbe('127.0.0.1'), rtpMinPort + Math.floor(Math.random() * (rtpMaxPort - rtpMinPort)));
  const { srt } = config.ingest;
  const srtPorts = srt ? new PortAllocator(srt.minPort, srt.maxPort, udpPortProbe(config.http.host), srt.minPort, false) : null;
  const metrics = new Metrics({
    channels: () => registry.list().map((c) => c.state),
    audience: () => {
      const own = signalling.localViewers();
      const here = clustered?.viewersHere() ?? { viewers: 0, realtime: 0 };
      return { viewers: own.viewers + here.viewers, realtime: own.realtime + here.realtime };
    },
    workerLoads: () => pool.loads(),
    hlsPortsInUse: () => ports.allocated,
    recordings: () => (recordings ? { active: recordings.activeCount, bytes: recordings.totalBytes } : null),
  });
  // Never fails start-up: an unusable directory is logged, and each broadcast then runs unrecorded.
  const recordings = config.recordings ? await RecordingStore.open(config.recordings, logger, { onDeleted: (reason) => metrics.recordingsDeleted.inc({ reason }) }) : null;
  const registry = new ChannelRegistry(
    pool,
    {
      config,
      hls: { ports, runDir, draining },
      srtPorts,
      onFfmpegRestart: () => metrics.ffmpegRestarts.inc(),
      onFfmpegStall: () => metrics.ffmpegStalls.inc(),
      createRouter: (mediaCodecs, channelId) => pool.createRouter({ channelId, egress: true }, mediaCodecs),
      recordings,
      onRecordingFailed: () => metrics.recordingFailures.inc(),
      viewerPlacement: {
        viewerSlot: (home) => pool.viewerSlot(home),
        createRouterOn: (slot, channelId) => pool.createRouterOn(slot, { channelId, fanOut: true }),
      },
    },
    logger,
  );

  // Cluster: the shared recordings list needs this instance's origin, known once it listens.
  let recordingsElsewhere: (RecordingsElsewhere & { stop(): Promise<void> }) | null = null;
  const addresses = new ClientAddresses(config.limits.trustedProxies);
  const limits = new ClientLimits(config.limits, (limit) => metrics.limitRefusals.inc({ limit }));
  const httpServer = await createHttpServer({
    webBuildDir: config.http.webBuildDir,
    logger,
    hls: (channelId) => registry.get(channelId)?.hlsStream ?? draining.get(channelId),
    thumbnail: (channelId) => registry.get(channelId)?.thumbnail ?? null,
    channelDetails: (channelId) => {
      const state = registry.get(channelId)?.state;
      return state ? { title: state.title, description: state.description, live: state.phase === 'live' } : null;
    },
    // A channel another instance carries: its HLS is served there (307 to its origin).
    originOf: cluster
      ? async (channelId) => {
          const record = await cluster.locate(channelId);
          return record && record.instanceId !== cluster.instanceId ? record.state.origin : null;
        }
      : undefined,
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
    metricsToken: config.http.metricsToken,
    timeouts: { headersMs: config.http.headersTimeoutMs, requestMs: config.http.requestTimeoutMs },
    // A cluster's pages load HLS from, and connect Socket.IO to, the instance that carries the
    // channel, whose origin is only known at run time (instances come and go), so there the CSP
    // allows any http(s)/ws(s) origin for fetches and media; scripts stay limited to the page's
    // own origin, which is what stops injected code. (An https page still cannot use http: or
    // ws:, mixed content.) Alone, a page talks to its own origin only.
    crossOriginSources: cluster ? ['http:', 'https:', 'ws:', 'wss:'] : [],
    tls: config.http.tls,
    // WHIP and WHEP reach this instance's channels only: an encoder is given the URL of the
    // instance that carries its channel (the createChannel origin), and so is a WHEP player
    // (the channel state's origin).
    routes: [
      recordingsRoute({
        store: recordings,
        elsewhere: cluster
          ? {
              listed: async () => (recordingsElsewhere ? recordingsElsewhere.listed() : (recordings?.list() ?? []).filter((r) => r.listed)),
              originOf: async (recordingId) => recordingsElsewhere?.originOf(recordingId) ?? null,
            }
          : undefined,
        logger,
      }),
      whipRoute({ channel: (channelId) => registry.get(channelId), maxOfferBytes: MAX_OFFER_BYTES, logger }),
      whepRoute({
        channel: (channelId) => registry.get(channelId),
        maxOfferBytes: MAX_OFFER_BYTES,
        connectWithinMs: WHEP_CONNECT_WITHIN_MS,
        perAddress: limits.realtimePerAddress,
        addresses,
        logger,
      }),
    ],
  });
  guardConnections(httpServer, { limits: config.limits, addresses, logger, onRefused: (limit) => metrics.limitRefusals.inc({ limit }) });

  // Listening first gives this instance's URL, which is its origin in a cluster.
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.http.port, config.http.host, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const { host } = config.http;
  // With TLS this URL is also the cluster origin (unless PUBLIC_URL is set, which config then
  // requires to be https://): other instances send viewers here, so it must name the scheme served.
  const scheme = config.http.tls ? 'https' : 'http';
  const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const rtmp = config.ingest.rtmp
    ? await RtmpServer.listen({
        host,
        port: config.ingest.rtmp.port,
        rtmps: config.ingest.rtmp.rtmpsPort !== null && config.http.tls ? { port: config.ingest.rtmp.rtmpsPort, cert: config.http.tls.cert, key: config.http.tls.key } : null,
        channelForKey: (key) => registry.findByStreamKey(key),
        logger,
      }).catch((error: unknown) => {
        httpServer.close();
        throw error;
      })
    : null;

  if (cluster) recordingsElsewhere = shareRecordings({ cluster, store: recordings, origin: config.cluster?.publicUrl ?? url, logger });
  const io = createSocketServer(httpServer, cluster?.adapter());
  const clustered = cluster ? plugInCluster({ cluster, io, registry, pool, config, logger }) : null;
  const signalling = serveSignalling(io, {
    registry,
    config,
    origin: cluster ? (config.cluster?.publicUrl ?? url) : null,
    elsewhere: clustered?.elsewhere,
    presence: clustered?.presence ?? noPresenceElsewhere,
    directory: clustered?.directory,
    addresses,
    limits,
    onRequestError: (event) => metrics.requestErrors.inc({ event }),
    onChannelCreated: () => metrics.channelsCreated.inc(),
    logger,
  });
  logger.info({ url, tls: config.http.tls ? { cert: config.http.tls.certFile } : false, workers: pool.size, cluster: cluster ? { instanceId: cluster.instanceId, origin: config.cluster?.publicUrl ?? url } : false }, `livecast listening on ${url}: open it in a browser, or ${url}/go-live to broadcast`);

  let closing: Promise<void> | null = null;
  return {
    url,
    config,
    pool,
    registry,
    ports,
    rtmp,
    io,
    metrics,
    limits,
    recordings,
    close: () =>
      (closing ??= (async () => {
        await rtmp?.close();
        await registry.endAll('the server is shutting down');
        draining.close();
        await recordings?.close();
        await clustered?.stop();
        await recordingsElsewhere?.stop();
        await new Promise<void>((resolve) => io.close(() => resolve()));
        pool.close();
        await cluster?.close();
        await rm(runDir, { recursive: true, force: true }).catch((error: unknown) => logger.error({ err: error, runDir }, 'could not remove the run directory'));
        logger.info('livecast stopped');
      })()),
  };
}
