import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseCidr, type Cidr } from './http/client-address.js';

/**
 * Node raises its open-file limit to the hard limit at start; leave a quarter of it (at least
 * 1,000) for what channels need: FFmpeg pipes, segment files, mediasoup channels, logs.
 */
function defaultMaxConnections(): number {
  let limit = 1024;
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s+/)[3]);
    if (Number.isFinite(soft) && soft > 0) limit = soft;
  } catch {
    // not Linux: assume the common default
  }
  return Math.max(64, Math.min(limit - 1000, Math.floor(limit * 0.75)));
}

function parseCidrList(value: string, ctx: z.RefinementCtx): Cidr[] {
  const cidrs: Cidr[] = [];
  for (const item of value.split(',').map((v) => v.trim()).filter(Boolean)) {
    const cidr = parseCidr(item);
    if (cidr) cidrs.push(cidr);
    else ctx.addIssue({ code: 'custom', message: `TRUSTED_PROXIES: ${item} is not an IP address or CIDR` });
  }
  return cidrs;
}

/**
 * A PEM file named by TLS_CERT or TLS_KEY, read and parsed while the configuration is checked, so
 * that a wrong path or a file that is not what it should be stops start-up with the variable's
 * name, before any worker or FFmpeg is started (not as an obscure OpenSSL error at listen time).
 */
function pemFile(kind: 'certificate' | 'key') {
  return z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .transform((file, ctx) => {
        let pem: Buffer;
        try {
          pem = readFileSync(file);
        } catch (error) {
          const code = error instanceof Error && 'code' in error ? String(error.code) : String(error);
          ctx.addIssue({ code: 'custom', message: `cannot read ${file} (${code})` });
          return z.NEVER;
        }
        try {
          if (kind === 'certificate') new X509Certificate(pem);
          else createPrivateKey(pem);
        } catch {
          const what = kind === 'certificate' ? 'a PEM certificate' : 'an unencrypted PEM private key';
          ctx.addIssue({ code: 'custom', message: `${file} is not ${what}` });
          return z.NEVER;
        }
        return { file, pem };
      })
      .optional(),
  );
}

/** Does the private key in TLS_KEY belong to the (first, leaf) certificate in TLS_CERT? */
function keyMatchesCertificate(cert: Buffer, key: Buffer): boolean {
  try {
    return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

/** Every setting comes from the environment with a safe default (loopback only, ports in range). */
const portNumber = z.coerce.number().int().min(1).max(65535);

const schema = z
  .object({
    HOST: z.string().default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** `auto`: readable lines when stdout is a terminal, JSON lines otherwise. */
    LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
    /** mediasoup workers; one per core is the mediasoup recommendation. */
    MEDIASOUP_WORKERS: z.coerce.number().int().min(1).max(64).default(os.availableParallelism()),
    RTC_LISTEN_IP: z.string().default('127.0.0.1'),
    /** Public address to put in ICE candidates when RTC_LISTEN_IP is 0.0.0.0 or behind NAT. */
    RTC_ANNOUNCED_ADDRESS: z.string().optional(),
    RTC_MIN_PORT: portNumber.default(40000),
    /**
     * Broadcasters send their camera as simulcast: up to three H264 layers (a quarter, half and
     * full size, as the camera's resolution allows) that real-time viewers choose between by
     * bandwidth; `off`: one layer.
     */
    SIMULCAST: z.enum(['on', 'off']).default('on'),
    /** Bits per second a new WebRTC transport may send before congestion control has measured the path. */
    RTC_INITIAL_BITRATE: z.coerce.number().int().min(100_000).max(100_000_000).default(1_000_000),
    /** Viewer counts and directory updates are pushed at most once per interval (the directory: twice it). */
    PRESENCE_INTERVAL_MS: z.coerce.number().int().min(10).max(10_000).default(250),
    RTC_MAX_PORT: portNumber.default(49999),
    /** UDP ports for the mediasoup → FFmpeg RTP legs (four per channel). */
    HLS_RTP_MIN_PORT: portNumber.default(20000),
    HLS_RTP_MAX_PORT: portNumber.default(29999),
    HLS_DIR: z.string().default(path.resolve('hls')),
    /**
     * LL-HLS segment target: a key frame is asked for this often and segments start at key frames
     * (EXT-X-TARGETDURATION is this, rounded). Latency comes from the parts, not from short segments.
     */
    HLS_SEGMENT_SECONDS: z.coerce.number().min(1).max(10).default(1),
    /** LL-HLS part target (EXT-X-PART-INF), seconds: players play about three parts behind the live edge. */
    HLS_PART_SECONDS: z.coerce.number().min(0.1).max(1).default(0.2),
    FFMPEG_PATH: z.string().default('ffmpeg'),
    /** A live channel's preview picture is renewed about this often (from its newest key frame). */
    THUMBNAIL_SECONDS: z.coerce.number().min(1).max(300).default(10),
    THUMBNAIL_WIDTH: z.coerce.number().int().min(64).max(1920).default(480),
    /** Every broadcast is recorded (its LL-HLS segments written to disk as they are made, no re-encoding). */
    RECORDINGS: z.enum(['on', 'off']).default('on'),
    RECORDINGS_DIR: z.string().min(1).default(path.resolve('recordings')),
    /** Recordings older than this are deleted (0: kept whatever their age). Fractions allowed. */
    RECORDINGS_MAX_AGE_DAYS: z.coerce.number().min(0).default(30),
    /** Finished recordings are deleted, oldest first, while all of them together take more than this. */
    RECORDINGS_MAX_SIZE_MB: z.coerce.number().positive().default(20_480),
    /**
     * `auto` copies H264 into HLS and transcodes anything else (VP8); `transcode` always re-encodes,
     * costing ~5× the CPU: the cost benchmark's baseline, not meant for production.
     */
    HLS_VIDEO_MODE: z.enum(['auto', 'transcode']).default('auto'),
    /**
     * A simulcast broadcast in HLS: `layers` passes every layer through as a rendition of a
     * multivariant playlist (players switch by bandwidth); `top` carries only the top layer.
     */
    HLS_RENDITIONS: z.enum(['layers', 'top']).default('layers'),
    /**
     * A one-layer H264 source (RTP from WebRTC or WHIP without simulcast, an RTMP or SRT encoder) in HLS: `on` adds a
     * transcoded ladder below it (½ and ¼ of its height, libx264, key frames where the source has
     * them) as renditions of a multivariant playlist; the source itself is copied as the top one.
     * Costs a decode and two small encodes per channel (bench:renditions).
     */
    HLS_LADDER: z.enum(['off', 'on']).default('off'),
    /** RTMP ingest (OBS's default output): `rtmp://<host>:<port>/live/<stream key>` on HOST; 0 turns it off. */
    RTMP_PORT: z.coerce.number().int().min(0).max(65535).default(1935),
    /** RTMPS (RTMP in TLS, with TLS_CERT/TLS_KEY) on this port; 0: none. Needs RTMP on. */
    RTMPS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
    /**
     * SRT ingest: each channel gets an SRT listener port of its own from this range, with the
     * channel's stream key as passphrase (`srt://<host>:<port>?passphrase=<key>`); 0 turns SRT off.
     */
    SRT_MIN_PORT: z.coerce.number().int().min(0).max(65535).default(8890),
    SRT_MAX_PORT: portNumber.default(8989),
    /** Real-time viewers of an RTMP/SRT stream get it transcoded (browser H264 + Opus) at this video bitrate, kbit/s. */
    REALTIME_TRANSCODE_KBPS: z.coerce.number().int().min(200).max(20_000).default(2500),
    /** The transcode stops this long after the last real-time viewer left (a viewer who reloads finds it running). */
    REALTIME_TRANSCODE_LINGER_MS: z.coerce.number().int().min(0).max(600_000).default(5000),
    MAX_CHANNELS: z.coerce.number().int().min(1).default(100),
    /** Real-time (WebRTC) viewers per channel; beyond it viewers get HLS. */
    REALTIME_VIEWERS_PER_CHANNEL: z.coerce.number().int().min(0).default(50),
    /** A created channel that nobody publishes to within this time is dropped. */
    CHANNEL_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1000).default(60_000),
    /** A broadcaster whose signalling connection drops may come back within this time. */
    BROADCASTER_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
    /** If set, creating a channel requires this key (a server-wide "who may go live" secret). */
    PUBLISH_KEY: z.preprocess(
      (v) => (v === '' ? undefined : v),
      z.string().min(8, 'PUBLISH_KEY must have at least 8 characters').optional(),
    ),
    /** Channels one client address may create per minute. */
    CHANNEL_CREATE_PER_MINUTE: z.coerce.number().int().min(1).default(10),
    /** FFmpeg restarts allowed per channel before the channel is ended. */
    FFMPEG_MAX_RESTARTS: z.coerce.number().int().min(0).default(5),
    /**
     * Several instances behind one address share channels, presence and the directory through
     * this Redis (redis://host:port). Unset: the server runs alone and needs no Redis.
     */
    REDIS_URL: z.preprocess(
      (v) => (v === '' ? undefined : v),
      z.url({ protocol: /^rediss?$/, error: 'REDIS_URL must be a redis:// or rediss:// URL' }).optional(),
    ),
    /**
     * The URL at which viewers reach this very instance (not the load balancer): viewers on other
     * instances fetch this instance's HLS and connect here for WebRTC. Default: the listen address.
     */
    PUBLIC_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^https?$/ }).optional()),
    /** A channel whose instance stops refreshing its directory record disappears after this time. */
    CLUSTER_CHANNEL_TTL_MS: z.coerce.number().int().min(1000).max(600_000).default(5000),
    // ---- liveness and per-client limits (hardening)
    /** A source that sends no media for this long after its first track (or since its last packet) ends its channel. */
    SOURCE_MEDIA_TIMEOUT_MS: z.coerce.number().int().min(1000).default(15_000),
    /** FFmpeg listing no new segment for this long while media flows in is killed and restarted (at least 3 segments). */
    HLS_STALL_TIMEOUT_MS: z.coerce.number().int().min(1000).default(6000),
    /**
     * How long HLS waits at start for the source's first RTCP sender reports (its capture clock,
     * which keeps audio and video in sync from the first frame); a source without one by then is
     * synced on arrival times. Chromium's audio report comes ~2–3 s after it starts sending;
     * FFmpeg sends one every 5 s.
     */
    HLS_SYNC_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(4000),
    /** Channels one client address may hold at once (created and not ended). */
    MAX_CHANNELS_PER_ADDRESS: z.coerce.number().int().min(1).default(3),
    /** Open TCP connections to this server in all (kept below the file-descriptor limit). */
    MAX_CONNECTIONS: z.coerce.number().int().min(16).default(defaultMaxConnections()),
    /** Open TCP connections from one address (not counted for TRUSTED_PROXIES, whose clients are counted by address below). */
    MAX_CONNECTIONS_PER_ADDRESS: z.coerce.number().int().min(1).default(200),
    /** Socket.IO connections from one client address. */
    MAX_SOCKETS_PER_ADDRESS: z.coerce.number().int().min(1).default(50),
    /** Real-time (WebRTC) viewer sessions from one client address, over all channels. */
    REALTIME_VIEWERS_PER_ADDRESS: z.coerce.number().int().min(1).default(10),
    /** Real-time viewer sessions over one Socket.IO connection, over all channels. */
    REALTIME_VIEWERS_PER_CONNECTION: z.coerce.number().int().min(1).default(4),
    /** Requests one Socket.IO connection may have in progress at once (unanswered handshake steps). */
    MAX_PENDING_REQUESTS: z.coerce.number().int().min(1).default(8),
    /**
     * Comma-separated addresses or CIDRs of reverse proxies / load balancers: only for requests
     * from these is the client address taken from X-Forwarded-For.
     */
    TRUSTED_PROXIES: z.preprocess((v) => (v === undefined ? '' : v), z.string().transform(parseCidrList)),
    /** Where the built SvelteKit app lives (adapter-node output); absent → HLS and API only. */
    WEB_BUILD_DIR: z.string().default(path.resolve('web/build')),
    /**
     * HTTPS: PEM files of the certificate (its chain may follow it in the same file, as in Let's
     * Encrypt's fullchain.pem) and of its private key. With both, the app, /hls and Socket.IO are
     * served over HTTPS (WSS) on PORT; with neither, plain HTTP. Browsers allow the camera only in
     * a secure context (HTTPS, or localhost), so a broadcaster on another machine needs one or the
     * other, or a TLS proxy in front.
     */
    TLS_CERT: pemFile('certificate'),
    TLS_KEY: pemFile('key'),
    // HTTP hygiene (issue 12): slow-client timeouts and who may read /metrics.
    /**
     * A client must send its whole request head within this time (slowloris). Node's default is
     * 60 s, checked every 30 s; a browser sends its headers at once.
     */
    HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(500).max(120_000).default(10_000),
    /**
     * ... and its whole request (head and body) within this time. Only the upload is timed: a
     * response that waits (blocking playlist reload, Socket.IO long-polling) is not affected.
     */
    HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(500).max(600_000).default(30_000),
    /** If set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>`. */
    METRICS_TOKEN: z.preprocess(
      (v) => (v === '' ? undefined : v),
      z.string().min(16, 'METRICS_TOKEN must have at least 16 characters').optional(),
    ),
  })
  .refine((c) => c.RTC_MIN_PORT <= c.RTC_MAX_PORT, 'RTC_MIN_PORT must be <= RTC_MAX_PORT')
  .refine((c) => c.HLS_RTP_MAX_PORT - c.HLS_RTP_MIN_PORT >= 3, 'HLS_RTP port range needs at least 4 ports')
  .refine((c) => c.RTMPS_PORT === 0 || (c.TLS_CERT !== undefined && c.RTMP_PORT !== 0), {
    message: 'RTMPS_PORT needs TLS_CERT and TLS_KEY (its certificate) and RTMP_PORT (RTMP on)',
    path: ['RTMPS_PORT'],
  })
  .refine((c) => c.SRT_MIN_PORT === 0 || c.SRT_MIN_PORT <= c.SRT_MAX_PORT, 'SRT_MIN_PORT must be <= SRT_MAX_PORT (or 0: no SRT)')
  .refine(
    (c) => c.SRT_MIN_PORT === 0 || c.SRT_MAX_PORT < c.HLS_RTP_MIN_PORT || c.SRT_MIN_PORT > c.HLS_RTP_MAX_PORT,
    'the SRT and HLS_RTP port ranges must not overlap',
  )
  .refine((c) => c.SRT_MIN_PORT === 0 || c.SRT_MAX_PORT < c.RTC_MIN_PORT || c.SRT_MIN_PORT > c.RTC_MAX_PORT, 'the SRT and RTC port ranges must not overlap')
  .refine(
    (c) => !c.REDIS_URL || c.PUBLIC_URL || !['0.0.0.0', '::', '[::]'].includes(c.HOST),
    'PUBLIC_URL is required with REDIS_URL when HOST is a wildcard address: other instances send viewers to this URL',
  )
  .refine((c) => (c.TLS_CERT === undefined) === (c.TLS_KEY === undefined), {
    message: 'TLS_CERT and TLS_KEY go together: set both (HTTPS) or neither (HTTP)',
    path: [],
  })
  .refine((c) => !c.TLS_CERT || !c.TLS_KEY || keyMatchesCertificate(c.TLS_CERT.pem, c.TLS_KEY.pem), {
    message: 'the private key in TLS_KEY does not belong to the certificate in TLS_CERT',
    path: ['TLS_KEY'],
  })
  .refine((c) => !c.TLS_CERT || !c.PUBLIC_URL?.startsWith('http:'), {
    // PUBLIC_URL is where other instances send viewers to reach this one directly: over TLS.
    message: 'PUBLIC_URL must be an https:// URL when TLS_CERT and TLS_KEY are set',
    path: ['PUBLIC_URL'],
  })
  .refine((c) => c.HTTP_HEADERS_TIMEOUT_MS <= c.HTTP_REQUEST_TIMEOUT_MS, 'HTTP_HEADERS_TIMEOUT_MS must be <= HTTP_REQUEST_TIMEOUT_MS')
  .refine(
    (c) => c.HLS_RTP_MAX_PORT < c.RTC_MIN_PORT || c.HLS_RTP_MIN_PORT > c.RTC_MAX_PORT,
    'the HLS_RTP and RTC port ranges must not overlap (FFmpeg and mediasoup would fight over ports)',
  );

/** The environment as read: one variable per setting (README, Configuration). */
export type Env = z.infer<typeof schema>;

/**
 * The server's settings in sections, each handed whole to the part of the server it configures
 * (no field-by-field copying in between).
 */
export function sections(e: Env) {
  return {
    http: {
      host: e.HOST,
      port: e.PORT,
      webBuildDir: e.WEB_BUILD_DIR,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      metricsToken: e.METRICS_TOKEN,
      /**
       * Null: plain HTTP. The PEM contents are held here (not re-read at listen time) so what was
       * checked is what is served; nothing logs the configuration as a whole.
       */
      tls: e.TLS_CERT && e.TLS_KEY ? { certFile: e.TLS_CERT.file, cert: e.TLS_CERT.pem, key: e.TLS_KEY.pem } : null,
    },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
    /** mediasoup: workers and where WebRTC (and pipe) transports listen. */
    rtc: {
      workers: e.MEDIASOUP_WORKERS,
      listenIp: e.RTC_LISTEN_IP,
      announcedAddress: e.RTC_ANNOUNCED_ADDRESS,
      minPort: e.RTC_MIN_PORT,
      maxPort: e.RTC_MAX_PORT,
      /** What a new transport assumes it may send before congestion control knows better. */
      initialBitrate: e.RTC_INITIAL_BITRATE,
      simulcast: e.SIMULCAST === 'on',
    },
    hls: {
      dir: e.HLS_DIR,
      rtpMinPort: e.HLS_RTP_MIN_PORT,
      rtpMaxPort: e.HLS_RTP_MAX_PORT,
      segmentSeconds: e.HLS_SEGMENT_SECONDS,
      partSeconds: e.HLS_PART_SECONDS,
      ffmpegPath: e.FFMPEG_PATH,
      videoMode: e.HLS_VIDEO_MODE,
      renditions: e.HLS_RENDITIONS,
      ladder: e.HLS_LADDER === 'on',
      maxRestarts: e.FFMPEG_MAX_RESTARTS,
      stallTimeoutMs: e.HLS_STALL_TIMEOUT_MS,
      syncWaitMs: e.HLS_SYNC_WAIT_MS,
    },
    /** Encoders publishing over RTMP and SRT (null: that protocol is off). */
    ingest: {
      rtmp: e.RTMP_PORT === 0 ? null : { port: e.RTMP_PORT, rtmpsPort: e.RTMPS_PORT === 0 ? null : e.RTMPS_PORT },
      srt: e.SRT_MIN_PORT === 0 ? null : { minPort: e.SRT_MIN_PORT, maxPort: e.SRT_MAX_PORT },
      transcodeKbps: e.REALTIME_TRANSCODE_KBPS,
      transcodeLingerMs: e.REALTIME_TRANSCODE_LINGER_MS,
    },
    thumbnails: {
      intervalMs: e.THUMBNAIL_SECONDS * 1000,
      width: e.THUMBNAIL_WIDTH,
    },
    /** Null: nothing is recorded (RECORDINGS=off). */
    recordings:
      e.RECORDINGS === 'on'
        ? {
            dir: e.RECORDINGS_DIR,
            maxAgeMs: e.RECORDINGS_MAX_AGE_DAYS * 86_400_000,
            maxBytes: Math.round(e.RECORDINGS_MAX_SIZE_MB * 1024 * 1024),
            ffmpegPath: e.FFMPEG_PATH,
          }
        : null,
    channels: {
      max: e.MAX_CHANNELS,
      realtimeViewers: e.REALTIME_VIEWERS_PER_CHANNEL,
      idleTimeoutMs: e.CHANNEL_IDLE_TIMEOUT_MS,
      broadcasterGraceMs: e.BROADCASTER_GRACE_MS,
      sourceTimeoutMs: e.SOURCE_MEDIA_TIMEOUT_MS,
      publishKey: e.PUBLISH_KEY,
      createPerMinute: e.CHANNEL_CREATE_PER_MINUTE,
    },
    limits: {
      channelsPerAddress: e.MAX_CHANNELS_PER_ADDRESS,
      maxConnections: e.MAX_CONNECTIONS,
      connectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS,
      socketsPerAddress: e.MAX_SOCKETS_PER_ADDRESS,
      realtimePerAddress: e.REALTIME_VIEWERS_PER_ADDRESS,
      realtimePerConnection: e.REALTIME_VIEWERS_PER_CONNECTION,
      pendingRequests: e.MAX_PENDING_REQUESTS,
      trustedProxies: e.TRUSTED_PROXIES,
    },
    /** Viewer counts and the directory are pushed at most once per interval (bursts coalesced). */
    presence: { intervalMs: e.PRESENCE_INTERVAL_MS },
    /** Null: this server runs alone and builds nothing of cluster/. */
    cluster: e.REDIS_URL
      ? { redisUrl: e.REDIS_URL, publicUrl: e.PUBLIC_URL?.replace(/\/$/, ''), channelTtlMs: e.CLUSTER_CHANNEL_TTL_MS }
      : null,
  };
}

export type Config = ReturnType<typeof sections>;
export type ClusterConfig = NonNullable<Config['cluster']>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new Error(`invalid configuration: ${problems.join('; ')}`);
  }
  return sections(parsed.data);
}
