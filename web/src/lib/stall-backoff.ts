/**
 * hls.js moves its target latency back by `liveSyncOnStallIncrease` for every stall and never
 * forward again (until the next manifest load): on a 2-core machine a viewer stalled every 20-40 s
 * (a part published late, a short segment) and drifted from 0.8 s to 1.3-1.6 s behind live over
 * two minutes, never to return. Here the back-off is earned back: after a stretch of smooth
 * playback the target steps towards the playlist's hold-back again, one step per stretch. A
 * viewer that keeps stalling more often than that still backs off.
 */
export const SMOOTH_STRETCH_MS = 10_000;
/**
 * Seconds per step, both ways: hls.js's back-off per stall (the watch page configures it as
 * `liveSyncOnStallIncrease`) and what one smooth stretch gives back.
 */
export const STALL_STEP_S = 0.1;

/**
 * The target latency to set now, or null to leave it. `target`: hls.js's current one; `holdBack`:
 * the playlist's (PART-HOLD-BACK); `smoothForMs`: since the last stall, seek or step.
 */
export function easedTargetLatency(target: number, holdBack: number, smoothForMs: number): number | null {
  if (smoothForMs < SMOOTH_STRETCH_MS || target <= holdBack + 0.001) return null;
  return Math.max(holdBack, Math.round((target - STALL_STEP_S) * 1000) / 1000);
}
