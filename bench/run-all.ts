/**
 * All benchmarks, one after the other (they would disturb each other's CPU measurements if run
 * together): npm run bench. Results go to stdout as Markdown tables; docs/benchmarks.md keeps
 * the latest ones with how to read them.
 */
import { runCluster } from './cluster.js';
import { runCostPerChannel } from './cost-per-channel.js';
import { runGlassToGlass } from './glass-to-glass.js';
import { runHlsServing } from './hls-serving.js';
import { runSignalling } from './signalling.js';

const only = process.argv[2];
const benchmarks: [string, () => Promise<void>][] = [
  ['latency', runGlassToGlass],
  ['cost', runCostPerChannel],
  ['serving', runHlsServing],
  ['signalling', runSignalling],
  ['cluster', runCluster],
];
for (const [name, run] of benchmarks) {
  if (only && only !== name) continue;
  console.error(`\n=== ${name} ===`);
  await run();
}
