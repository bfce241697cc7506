import type { HlsConfig } from 'hls.js';
import { STALL_STEP_S } from './stall-backoff';

/**
 * hls.js for the server's LL-HLS: low-latency mode loads parts and blocks on playlist reloads,
 * and plays PART-HOLD-BACK (three parts) behind the live edge as the playlist says; no distance
 * of our own is set, since any `liveSyncDuration` would override the server's hold-back. When
 * slightly behind, it catches up by playing up to 10 % faster (further behind, hls-player.ts jumps);
 * little back buffer is kept (nobody seeks).
 */
export const lowLatencyHlsConfig = (): Partial<HlsConfig> => ({
  lowLatencyMode: true,
  maxLiveSyncPlaybackRate: 1.1,
  // hls.js adds this to its target latency for every stall it sees (1 s by default, capped at a
  // target duration): the one stall most starts have (the first part arrives before the key
  // frame's segment is buffered) left every viewer a full second further behind than
  // PART-HOLD-BACK for good. A little per stall still backs off a viewer whose network keeps
  // stalling (and hls-player.ts gives it back after smooth playback).
  liveSyncOnStallIncrease: STALL_STEP_S,
  backBufferLength: 4,
  maxBufferLength: 4,
  enableWorker: true,
  // A playlist request that fails briefly should be retried quickly, not given up.
  manifestLoadPolicy: {
    default: {
      maxTimeToFirstByteMs: 5000,
      maxLoadTimeMs: 10000,
      timeoutRetry: { maxNumRetry: 4, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry: { maxNumRetry: 6, retryDelayMs: 250, maxRetryDelayMs: 1000 },
    },
  },
});
