import type { HlsConfig } from 'hls.js';

/**
 * hls.js tuned for short segments: play one segment behind the live edge instead of three
 * (measured 1.6 s glass-to-glass instead of 2.7 s), catch up by playing up to 10 % faster when
 * we fall behind, and keep little back buffer since nobody seeks in a live stream.
 *
 * The distance is given in seconds, not in target durations: FFmpeg rounds EXT-X-TARGETDURATION
 * up (a 1.02 s segment makes it 2), which would double the latency of `liveSyncDurationCount: 1`.
 */
export const lowLatencyHlsConfig = (segmentSeconds: number): Partial<HlsConfig> => ({
  // The server supports blocking playlist reload (`_HLS_msn`); hls.js only uses it in this mode.
  lowLatencyMode: true,
  liveSyncDuration: segmentSeconds,
  liveMaxLatencyDuration: segmentSeconds * 3,
  maxLiveSyncPlaybackRate: 1.1,
  backBufferLength: 4,
  maxBufferLength: 4,
  enableWorker: true,
  // A playlist that briefly 404s (FFmpeg rotating files) should be retried quickly, not given up.
  manifestLoadPolicy: {
    default: {
      maxTimeToFirstByteMs: 5000,
      maxLoadTimeMs: 10000,
      timeoutRetry: { maxNumRetry: 4, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry: { maxNumRetry: 6, retryDelayMs: 250, maxRetryDelayMs: 1000 },
    },
  },
});
