import { execFileSync } from 'node:child_process';
import HLS from 'hls-parser';

/**
 * The first segments of a live LL-HLS stream as one fMP4 file (init + segments in order, from the
 * start of the window), read like a player would, through the playlist. Stops at a discontinuity.
 */
export async function captureHls(playlistUrl: string, segments: number): Promise<Buffer> {
  const base = new URL('.', playlistUrl);
  const parts: Buffer[] = [];
  let next: number | null = null;
  let map: string | null = null;
  const deadline = Date.now() + 30_000;
  while (parts.length < segments + 1) {
    if (Date.now() > deadline) throw new Error(`only ${parts.length - 1} segments of ${playlistUrl} in 30 s`);
    const url = next === null ? playlistUrl : `${playlistUrl}?_HLS_msn=${next}`;
    const playlist = HLS.parse(await (await fetch(url)).text());
    if (!(playlist instanceof HLS.types.MediaPlaylist)) throw new Error('not a media playlist');
    for (const [i, segment] of playlist.segments.entries()) {
      const msn = (playlist.mediaSequenceBase ?? 0) + i;
      if (!segment.uri || (next !== null && msn < next) || parts.length >= segments + 1) continue;
      if (next !== null && segment.discontinuity) return Buffer.concat(parts);
      const segmentMap = segment.map?.uri ?? null;
      if (map === null && segmentMap) {
        map = segmentMap;
        parts.push(Buffer.from(await (await fetch(new URL(segmentMap, base))).arrayBuffer()));
      }
      if (map === null) continue;
      parts.push(Buffer.from(await (await fetch(new URL(segment.uri, base))).arrayBuffer()));
      next = msn + 1;
    }
  }
  return Buffer.concat(parts);
}

/** Presentation times (s) of frames whose mean luma crosses `threshold` upwards (a flash starts). */
export function flashTimes(file: string, threshold = 128): number[] {
  const csv = execFileSync('ffprobe', ['-v', 'error', '-f', 'lavfi', '-i', `movie=${file},signalstats`, '-show_entries', 'frame=pts_time:frame_tags=lavfi.signalstats.YAVG', '-of', 'csv=p=0'], { encoding: 'utf8' });
  const frames = csv.trim().split('\n').map((line) => line.split(',').map(Number) as [number, number]);
  return frames.filter(([, luma], i) => luma > threshold && (i === 0 || frames[i - 1]![1] <= threshold)).map(([t]) => t);
}

/**
 * Presentation times (s) where a beep starts: the first sample above `threshold` after at least
 * `quietSeconds` of samples below it. The audio is decoded by FFmpeg from its first packet's
 * time, which is read from the stream (ffprobe), so the times share the video's timeline.
 */
export function beepOnsets(file: string, threshold = 0.2, quietSeconds = 0.3): number[] {
  const rate = 48_000;
  const start = Number(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'frame=pts_time', '-read_intervals', '%+#1', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim().split('\n')[0]);
  const pcm = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:a:0', '-ac', '1', '-ar', String(rate), '-f', 'f32le', '-'], { maxBuffer: 256 * 2 ** 20 });
  const samples = new Float32Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.length / 4));
  const onsets: number[] = [];
  let quiet = quietSeconds * rate;
  for (let i = 0; i < samples.length; i++) {
    if (Math.abs(samples[i]!) < threshold) {
      quiet++;
      continue;
    }
    if (quiet >= quietSeconds * rate) onsets.push(start + i / rate);
    quiet = 0;
  }
  return onsets;
}

/**
 * Pairs every flash with the beep nearest to it (within half a second) and returns beep − flash
 * in ms: positive means the audio is late.
 */
export function avOffsetsMs(flashes: number[], beeps: number[]): number[] {
  return flashes.flatMap((flash) => {
    const nearest = beeps.reduce<number | null>((best, beep) => (best === null || Math.abs(beep - flash) < Math.abs(best - flash) ? beep : best), null);
    return nearest !== null && Math.abs(nearest - flash) < 0.5 ? [Math.round((nearest - flash) * 1000)] : [];
  });
}
