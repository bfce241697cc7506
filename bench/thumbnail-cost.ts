/**
 * What live thumbnails cost: N channels fed without browsers (as bench:cost feeds them), each
 * with its thumbnailer making a picture every THUMBNAIL_SECONDS from the newest key frame. CPU
 * and memory of the thumbnail FFmpeg processes per channel, against the channels' own HLS FFmpeg
 * processes in the same window (the baseline: what a channel already costs). Target: ≤ 0.5 % of a
 * core per channel.
 *
 *   npm run bench:thumbnails     BENCH_CHANNELS (5)  BENCH_WINDOW_S (60)  THUMBNAIL_SECONDS (10)
 */
import { startFedChannel, type FedChannel } from '../server/test/helpers/test-app.js';
import { testClip } from '../server/test/helpers/rtp-source.js';
import { printTable, startBenchServer } from './lib.js';
import { cpuPercentOver, rssMiB } from './proc-stats.js';

const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 5);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 60);
const INTERVAL_S = Number(process.env.THUMBNAIL_SECONDS ?? 10);

export async function runThumbnailCost(): Promise<void> {
  testClip();
  const server = await startBenchServer({ THUMBNAIL_SECONDS: String(INTERVAL_S), MAX_CHANNELS: String(CHANNELS + 5), CHANNEL_CREATE_PER_MINUTE: '10000' });
  const fed: FedChannel[] = [];
  try {
    for (let i = 0; i < CHANNELS; i++) fed.push(await startFedChannel(server.app));
    // Every thumbnailer has started its FFmpeg (the first picture comes with the first segment).
    const deadline = Date.now() + 20_000;
    while (fed.some((f) => f.channel.thumbnailFfmpegPid === undefined || f.channel.thumbnail === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const thumbnails = fed.map((f) => f.channel.thumbnailFfmpegPid!).filter(Boolean);
    if (thumbnails.length !== CHANNELS) throw new Error(`${thumbnails.length} of ${CHANNELS} thumbnailers started`);
    const pictures = fed.map((f) => f.channel.thumbnail!.at);
    const cpu = await cpuPercentOver({ thumbnails, hls: fed.map((f) => f.channel.ffmpegPid!) }, WINDOW_S * 1000);
    const renewed = fed.filter((f, i) => f.channel.thumbnail!.at > pictures[i]!).length;
    const perChannel = cpu.thumbnails! / CHANNELS;
    printTable(`Live thumbnails: ${CHANNELS} channels, a picture every ${INTERVAL_S} s, ${WINDOW_S} s window`, [
      {
        'thumbnail FFmpeg % of a core per channel': perChannel.toFixed(3),
        'HLS FFmpeg % of a core per channel (baseline)': (cpu.hls! / CHANNELS).toFixed(2),
        'thumbnail / HLS FFmpeg': (cpu.thumbnails! / cpu.hls!).toFixed(3),
        'thumbnail FFmpeg RSS MiB per channel': (thumbnails.reduce((s, pid) => s + rssMiB(pid), 0) / CHANNELS).toFixed(1),
        'pictures renewed in the window': `${renewed}/${CHANNELS}`,
        'target % per channel': 0.5,
      },
    ]);
  } finally {
    await Promise.all(fed.map((f) => f.stop()));
    await server.stop();
  }
}
