import { execFileSync } from 'node:child_process';

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
