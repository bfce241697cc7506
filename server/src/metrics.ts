import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSources {
  channels(): { phase: string }[];
  audience(): { viewers: number; realtime: number };
  workerLoads(): { routers: number; consumers: number }[];
  hlsPortsInUse(): number;
  /** Recordings being written, and what all recordings take on disk; null when recording is off. */
  recordings(): { active: number; bytes: number } | null;
}

/**
 * Prometheus metrics for /metrics. Gauges are read from the live objects at scrape time, so they
 * can never drift from the truth; counters count events as they happen.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly ffmpegRestarts: Counter;
  readonly requestErrors: Counter<'event'>;
  readonly channelsCreated: Counter;
  readonly ffmpegStalls: Counter;
  readonly limitRefusals: Counter<'limit'>;
  readonly recordingFailures: Counter;
  readonly recordingsDeleted: Counter<'reason'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'livecast_' });
    new Gauge({
      name: 'livecast_channels',
      help: 'Channels on this server by phase (waiting = no HLS yet)',
      labelNames: ['phase'],
      registers,
      collect() {
        const byPhase = new Map<string, number>([['waiting', 0], ['live', 0]]);
        for (const c of sources.channels()) byPhase.set(c.phase, (byPhase.get(c.phase) ?? 0) + 1);
        for (const [phase, n] of byPhase) this.set({ phase }, n);
      },
    });
    new Gauge({
      name: 'livecast_viewers',
      help: 'Viewers by mode',
      labelNames: ['mode'],
      registers,
      collect() {
        const { viewers, realtime } = sources.audience();
        this.set({ mode: 'realtime' }, realtime);
        this.set({ mode: 'hls' }, viewers - realtime);
      },
    });
    new Gauge({
      name: 'livecast_mediasoup_workers',
      help: 'Running mediasoup workers',
      registers,
      collect() {
        this.set(sources.workerLoads().filter((l) => Number.isFinite(l.routers)).length);
      },
    });
    new Gauge({
      name: 'livecast_worker_routers',
      help: 'Routers (channels) per mediasoup worker slot',
      labelNames: ['slot'],
      registers,
      collect() {
        sources.workerLoads().forEach((l, slot) => this.set({ slot: String(slot) }, Number.isFinite(l.routers) ? l.routers : 0));
      },
    });
    new Gauge({
      name: 'livecast_hls_rtp_ports_in_use',
      help: 'UDP ports held for mediasoup → FFmpeg RTP',
      registers,
      collect() {
        this.set(sources.hlsPortsInUse());
      },
    });
    new Gauge({
      name: 'livecast_recordings_active',
      help: 'Broadcasts being recorded now',
      registers,
      collect() {
        this.set(sources.recordings()?.active ?? 0);
      },
    });
    new Gauge({
      name: 'livecast_recordings_bytes',
      help: 'Bytes all recordings of this server take on disk (media, pictures, MP4 downloads)',
      registers,
      collect() {
        this.set(sources.recordings()?.bytes ?? 0);
      },
    });
    this.recordingFailures = new Counter({
      name: 'livecast_recording_failures_total',
      help: 'Recordings stopped because they could not be written (full disk, unwritable directory); the live streams went on',
      registers,
    });
    this.recordingsDeleted = new Counter({ name: 'livecast_recordings_deleted_total', help: 'Recordings deleted, by reason (retention, owner)', labelNames: ['reason'], registers });
    this.ffmpegStalls = new Counter({ name: 'livecast_ffmpeg_stalls_total', help: 'Hung FFmpeg processes (no new segment while media flowed) killed', registers });
    this.limitRefusals = new Counter({
      name: 'livecast_limit_refusals_total',
      help: 'Requests and connections refused by a per-client or server-wide limit, by limit',
      labelNames: ['limit'],
      registers,
    });
    this.ffmpegRestarts = new Counter({ name: 'livecast_ffmpeg_restarts_total', help: 'FFmpeg processes restarted after dying', registers });
    this.channelsCreated = new Counter({ name: 'livecast_channels_created_total', help: 'Channels created', registers });
    this.requestErrors = new Counter({
      name: 'livecast_request_errors_total',
      help: 'Signalling requests answered with an error, by event (handshake errors and bad input)',
      labelNames: ['event'],
      registers,
    });
  }
}
