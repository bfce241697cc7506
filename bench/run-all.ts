/**
 * All benchmarks, one after the other (they would disturb each other's CPU measurements if run
 * together): npm run bench. Results go to stdout as Markdown tables; docs/benchmarks.md keeps
 * the latest ones with how to read them. The soak runs only when named (npm run bench:soak): it
 * takes half an hour.
 */
import { runAvSync } from './av-sync.js';
import { runCluster } from './cluster.js';
import { runCostPerChannel } from './cost-per-channel.js';
import { runFfmpegMemory } from './ffmpeg-memory.js';
import { runGlassToGlass } from './glass-to-glass.js';
import { runHlsAbr } from './hls-abr.js';
import { runHlsServing } from './hls-serving.js';
import { runIngestCost } from './ingest-cost.js';
import { runKeyframeInterval } from './keyframe-interval.js';
import { runPackagingCost } from './packaging-cost.js';
import { runRealtimeLoad } from './realtime-load.js';
import { runRecordingCost } from './recording-cost.js';
import { runRenditionsCost } from './renditions-cost.js';
import { runSignalling } from './signalling.js';
import { runSimulcast } from './simulcast.js';
import { runSoak } from './soak.js';
import { runStartQuality } from './start-quality.js';
import { runThumbnailCost } from './thumbnail-cost.js';
import { runWhipWhep } from './whip-whep.js';

const only = process.argv[2];
/** `onlyByName`: skipped by a plain `npm run bench`. */
const benchmarks: [string, () => Promise<void>, { onlyByName?: boolean }?][] = [
  ['latency', runGlassToGlass],
  ['start', runStartQuality],
  ['cost', runCostPerChannel],
  ['serving', runHlsServing],
  ['signalling', runSignalling],
  ['cluster', runCluster],
  ['whip', runWhipWhep],
  ['avsync', runAvSync],
  ['keyframes', runKeyframeInterval],
  ['packaging', runPackagingCost],
  ['thumbnails', runThumbnailCost],
  ['ingest', runIngestCost],
  ['recording', runRecordingCost],
  ['simulcast', runSimulcast],
  ['ffmpeg-memory', runFfmpegMemory],
  ['renditions', runRenditionsCost],
  ['hls-abr', runHlsAbr],
  ['realtime-load', runRealtimeLoad],
  ['soak', runSoak, { onlyByName: true }],
];
if (only && !benchmarks.some(([name]) => name === only)) throw new Error(`no benchmark named ${only}`);
for (const [name, run, options] of benchmarks) {
  if (only ? only !== name : options?.onlyByName) continue;
  console.error(`\n=== ${name} ===`);
  await run();
}
