import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/** Every setting comes from the environment with a safe default (loopback only, ports in range). */
const portNumber = z.coerce.number().int().min(1).max(65535);

const schema = z
  .object({
    HOST: z.string().default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** mediasoup workers; one per core is the mediasoup recommendation. */
    MEDIASOUP_WORKERS: z.coerce.number().int().min(1).max(64).default(os.availableParallelism()),
    RTC_LISTEN_IP: z.string().default('127.0.0.1'),
    /** Public address to put in ICE candidates when RTC_LISTEN_IP is 0.0.0.0 or behind NAT. */
    RTC_ANNOUNCED_ADDRESS: z.string().optional(),
    RTC_MIN_PORT: portNumber.default(40000),
    RTC_MAX_PORT: portNumber.default(49999),
    /** UDP ports for the mediasoup → FFmpeg RTP legs (four per channel). */
    HLS_RTP_MIN_PORT: portNumber.default(20000),
    HLS_RTP_MAX_PORT: portNumber.default(29999),
    HLS_DIR: z.string().default(path.resolve('hls')),
    /** 0.5 s segments + blocking playlist reload: ~1.2 s glass-to-glass (1 s segments: ~1.5 s). */
    HLS_SEGMENT_SECONDS: z.coerce.number().min(0.5).max(10).default(0.5),
    HLS_LIST_SIZE: z.coerce.number().int().min(2).max(30).default(6),
    FFMPEG_PATH: z.string().default('ffmpeg'),
    /** `auto` copies H264 and transcodes anything else; `transcode` always re-encodes (benchmark baseline). */
    HLS_VIDEO_MODE: z.enum(['auto', 'transcode']).default('auto'),
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
    /** Where the built SvelteKit app lives (adapter-node output); absent → HLS and API only. */
    WEB_BUILD_DIR: z.string().default(path.resolve('web/build')),
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
  .refine(
    (c) => !c.REDIS_URL || c.PUBLIC_URL || !['0.0.0.0', '::', '[::]'].includes(c.HOST),
    'PUBLIC_URL is required with REDIS_URL when HOST is a wildcard address: other instances send viewers to this URL',
  )
  .refine((c) => c.HTTP_HEADERS_TIMEOUT_MS <= c.HTTP_REQUEST_TIMEOUT_MS, 'HTTP_HEADERS_TIMEOUT_MS must be <= HTTP_REQUEST_TIMEOUT_MS')
  .refine(
    (c) => c.HLS_RTP_MAX_PORT < c.RTC_MIN_PORT || c.HLS_RTP_MIN_PORT > c.RTC_MAX_PORT,
    'the HLS_RTP and RTC port ranges must not overlap (FFmpeg and mediasoup would fight over ports)',
  );

export type Config = z.infer<typeof schema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new Error(`invalid configuration: ${problems.join('; ')}`);
  }
  return { ...parsed.data, ...overrides };
}
