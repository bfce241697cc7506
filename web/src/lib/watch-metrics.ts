import type { LatencySample } from './latency-probe';
import type { ViewingMode } from './viewer';

/** What the watch page publishes as `window.__livecast` for benchmarks and tests (bench/glass-to-glass.ts reads it). */
export interface WatchMetrics {
  firstFrameMs: number | null;
  stalls: number;
  /** Seeks: the player's own jumps to the live edge and the viewer's "go to live". */
  jumps: number;
  /** Clock readings of the test source, with ?clock. */
  samples: LatencySample[];
  mode: ViewingMode | null;
}
