/**
 * A/V offset of a recorded stream, measured from the media alone (no player): the test source
 * (web/src/lib/test-source.ts, `beeps`) paints its wall clock into every video frame and beeps
 * every second, and the page records the wall clock at which each beep's first sample was
 * delivered (window.__beeps). Here, with FFmpeg:
 *   - video: every frame's pts and the clock painted in it → where on the video timeline each
 *     wall-clock instant is shown (a robust fit: pts − wall is about constant);
 *   - audio: every beep's onset on the audio timeline, to the sample;
 *   - offset of a beep = its audio pts − the video pts at which its wall clock is shown
 *     (positive: audio late, a viewer hears it after the frame painted at the same time).
 * Audio and video pts are read as the file has them (-copyts: no start-time normalisation), so
 * both are on the file's one timeline. Used on the LL-HLS output (the first segments of a new
 * channel, fetched over HTTP) and on a MediaRecorder recording of the same source (the baseline).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BoxSplitter, readFragment, readInit, type TrackSpan } from '../server/src/readers/hls/fmp4.js';
import { CLOCK_FRAME, CLOCK_ROW, decodeClockRow, unwrapClock } from '../web/src/lib/clock-code.js';
import type { Beep } from '../web/src/lib/test-source.js';

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';

export type { Beep };

/** Beeps come this far apart (test-source.ts): offsets are measurable up to half of it either way. */
const BEEP_PERIOD_MS = 1000;
/** A beep whose delivery was bracketed tighter than this (ms) calibrates the page's audio clock. */
const TIGHT_MS = 2;
/** Deliveries this much later (ms) than the earliest (relative to the device clock) are renders running late. */
const ON_TIME_MS = 15;
/** A step of the device clock against the context's beyond this (ms) is a slip (it is steady to ±1 ms otherwise). */
const SLIP_MS = 2;
/** Without a device clock, a beep's wall clock comes from the deliveries of this many beeps either side of it, and its own. */
const BEEP_NEIGHBOURS = 2;
/** Frames within this of a wall-clock instant (ms) fit where it is shown. */
const FIT_WINDOW_MS = 500;
/** A beep loud in the first this-many seconds of the audio may have begun before it: not an onset. */
const CUT_SECONDS = 0.05;
/** A video pts step this much (ms) longer or shorter than the painted clock's step is reported. */
const VIDEO_JUMP_MS = 15;
/** An audio timestamp step beyond this (ms) is a hole (positive) or an overlap (negative). */
const GAP_TOLERANCE_MS = 0.1;

// ---------------------------------------------------------------------------------------------
// The page's beeps: from delivery times to the audio clock

/** How the beeps' wall clocks were had (see beepClock). */
export interface BeepClock {
  /** 'device': getOutputTimestamp's clock, calibrated; 'deliveries': each beep's own delivery. */
  clock: 'device' | 'deliveries';
  /** ± this much (ms) on every beep's wall clock: the calibration's spread, or the bracket of the one delivery it rests on. */
  uncertaintyMs: number;
  /** Deliveries that came late (the renderer behind its schedule: a loaded page or machine). */
  late: number;
  /** Jumps of the device clock against the context's (the output device skipped: the page's audio slipped). */
  deviceSlips: number;
  /**
   * Their sizes added up, ms: Chromium's stamps on the audio follow such a jump only in part, so
   * the beeps after one may be off by up to its size (checked against MediaStreamTrackProcessor's
   * stamps on the same track).
   */
  slipMs: number;
}

/**
 * The wall clock of each beep: when its first sample was rendered into the stream's track, on
 * time. The page gives two clocks per beep (test-source.ts):
 *   - its delivery, bracketed by polls of currentTime: what Chromium stamps the audio with (the
 *     render time), but the renderer works in bursts and falls behind when the machine is
 *     loaded: deliveries stray from the sample clock by ~10 ms on an idle machine and by up to
 *     ±100 ms on a loaded one, and the polls themselves come late on a busy page;
 *   - getOutputTimestamp(): the output device's clock, steady to ±1 ms whatever the load, but
 *     offset by the output latency (~40 ms in headless Chromium), which the stream never sees.
 * So: the device clock, minus the lead of on-time renders over it, calibrated in the same page:
 * the median of (delivery − device clock) over the tightly bracketed deliveries within
 * ON_TIME_MS of the earliest one (later ones are renders running late), or if there are fewer
 * than 3 of those, the earliest one alone (its bracket is then the uncertainty).
 */
export function beepClock(beeps: Beep[]): { walls: number[] } & BeepClock {
  const isTight = (b: Beep) => b.wall - b.notBefore <= TIGHT_MS;
  const withDevice = beeps.filter((b) => b.played !== null);
  if (withDevice.length >= 3) {
    const lead = (b: Beep) => b.wall - b.played!;
    const earliest = withDevice.reduce((e, b) => (lead(b) < lead(e) ? b : e));
    const onTime = withDevice.filter((b) => lead(b) <= lead(earliest) + ON_TIME_MS);
    const tight = onTime.filter(isTight).map(lead);
    const offset = tight.length >= 3 ? median(tight) : lead(earliest);
    const uncertaintyMs = tight.length >= 3 ? (quantile(tight, 0.9) - quantile(tight, 0.1)) / 2 : earliest.wall - earliest.notBefore;
    const deviceDelay = withDevice.map((b) => b.played! - b.contextTime * 1000);
    const slips = deviceDelay.slice(1).map((d, i) => Math.abs(d - deviceDelay[i]!)).filter((jump) => jump > SLIP_MS);
    const slipMs = slips.reduce((sum, jump) => sum + jump, 0);
    return { walls: beeps.map((b) => (b.played === null ? b.wall : b.played + offset)), clock: 'device', uncertaintyMs, late: withDevice.length - onTime.length, deviceSlips: slips.length, slipMs };
  }
  const tight = beeps.filter(isTight);
  const delay = (b: Beep) => b.wall - b.contextTime * 1000;
  const walls = beeps.map((b, i) => {
    const near = beeps.slice(Math.max(0, i - BEEP_NEIGHBOURS), i + BEEP_NEIGHBOURS + 1).filter(isTight);
    return near.length === 0 ? b.wall : b.contextTime * 1000 + median(near.map(delay));
  });
  const d = tight.map(delay);
  return { walls, clock: 'deliveries', uncertaintyMs: d.length >= 3 ? (quantile(d, 0.9) - quantile(d, 0.1)) / 2 : Infinity, late: 0, deviceSlips: 0, slipMs: 0 };
}

// ---------------------------------------------------------------------------------------------
// Decoding with FFmpeg

function run(args: string[]): Promise<{ stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(FFMPEG, ['-hide_banner', '-nostdin', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ stdout: Buffer.concat(out), stderr }) : reject(new Error(`ffmpeg ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`))));
  });
}

export interface VideoFrame {
  /** Presentation time, s. */
  pts: number;
  /** The wall clock painted in it (ms, middle of the painted millisecond), or null if unreadable. */
  wall: number | null;
}

/** Every video frame's pts and painted clock. `nearMs`: about when it was painted (to unwrap the 32-bit clock). */
export async function decodeVideo(file: string, nearMs: number): Promise<VideoFrame[]> {
  const { width } = CLOCK_FRAME;
  const { stdout, stderr } = await run([
    '-loglevel', 'info', '-copyts', '-i', file, '-map', '0:v:0',
    // showinfo logs each frame's pts; the strip's row is all that is read (scaled back to the
    // source size, in case the sender lowered the resolution).
    '-vf', `showinfo,scale=${width}:${CLOCK_FRAME.height}:flags=bilinear,crop=${width}:1:0:${CLOCK_ROW},format=gray`,
    '-fps_mode', 'passthrough', '-f', 'rawvideo', 'pipe:1',
  ]);
  const pts = [...stderr.matchAll(/\] n:\s*\d+ pts:\s*-?\d+ pts_time:(-?[\d.]+)/g)].map((m) => Number(m[1]));
  if (pts.length * width !== stdout.length) throw new Error(`ffmpeg gave ${stdout.length / width} frames but logged ${pts.length}`);
  return pts.map((t, i) => {
    const row = stdout.subarray(i * width, (i + 1) * width);
    const reading = decodeClockRow((x) => row[x]!, width);
    return { pts: t, wall: reading === null ? null : unwrapClock(reading, nearMs) + 0.5 };
  });
}

export interface DecodedAudio {
  rate: number;
  /** Mono samples, the decoded frames one after another. */
  samples: Float32Array;
  /** The decoded frames: pts (s) and where their samples start in `samples`. */
  frames: { pts: number; offset: number; length: number }[];
}

export async function decodeAudio(file: string): Promise<DecodedAudio> {
  const { stdout, stderr } = await run(['-loglevel', 'info', '-copyts', '-i', file, '-map', '0:a:0', '-af', 'ashowinfo', '-ac', '1', '-f', 'f32le', 'pipe:1']);
  const frames: DecodedAudio['frames'] = [];
  let rate = 0;
  let offset = 0;
  for (const m of stderr.matchAll(/\] n:\s*\d+ pts:\s*-?\d+ pts_time:(-?[\d.]+).*?rate:(\d+) nb_samples:(\d+)/g)) {
    rate = Number(m[2]);
    frames.push({ pts: Number(m[1]), offset, length: Number(m[3]) });
    offset += Number(m[3]);
  }
  const samples = new Float32Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + stdout.length));
  if (samples.length !== offset) throw new Error(`ffmpeg gave ${samples.length} samples but logged ${offset}`);
  return { rate, samples, frames };
}

/**
 * Beep onsets (s, on the audio timeline): the first sample whose magnitude reaches half the beeps'
 * level, after at least half a beep period below it, that starts a tone (most of the next 10 ms
 * loud: a click is not a beep). The beeps' level is the 99th percentile of the magnitudes (beeps
 * fill 4 % of the time; a glitch louder than the beeps must not raise the threshold above them).
 * A beep starts from phase 0 (test-source.ts), so the crossing lags its true onset by asin(½)/2π
 * of a 1 kHz period, 0.08 ms (plus whatever the codecs smear). A beep cut by the start of the
 * audio (in its first CUT_SECONDS) is not one.
 */
export function beepOnsets(audio: DecodedAudio): number[] {
  const { samples, frames, rate } = audio;
  const magnitudes = samples.map(Math.abs).sort();
  const level = magnitudes[Math.floor(magnitudes.length * 0.99)] ?? 0;
  // The beep is 10× the tone: without one, nothing to find.
  if (level < 0.2) return [];
  const threshold = level / 2;
  const quiet = Math.round((rate * BEEP_PERIOD_MS) / 2000);
  const tone = Math.round(rate * 0.01);
  const isTone = (i: number) => {
    let loud = 0;
    for (let j = i; j < Math.min(samples.length, i + tone); j++) if (Math.abs(samples[j]!) >= threshold / 2) loud++;
    return loud >= tone / 2;
  };
  const onsets: number[] = [];
  let lastLoud = -Infinity;
  let frame = 0;
  for (let i = 0; i < samples.length; i++) {
    if (Math.abs(samples[i]!) < threshold) continue;
    if (i - lastLoud > quiet) {
      // A click is passed over without silencing what follows; what is loud at the start (AAC's
      // first 21 ms are the encoder's priming) may be a beep cut by it.
      if (i < rate * CUT_SECONDS) {
        lastLoud = i;
        continue;
      }
      if (!isTone(i)) continue;
      while (frames[frame + 1] && frames[frame + 1]!.offset <= i) frame++;
      const f = frames[frame]!;
      onsets.push(f.pts + (i - f.offset) / rate);
    }
    lastLoud = i;
  }
  return onsets;
}

/** Steps in the decoded audio timeline (ms; + hole, − overlap), from frame pts and lengths. */
export function decodedGaps(audio: DecodedAudio, toleranceMs: number): Gap[] {
  const gaps: Gap[] = [];
  for (let i = 1; i < audio.frames.length; i++) {
    const prev = audio.frames[i - 1]!;
    const step = (audio.frames[i]!.pts - (prev.pts + prev.length / audio.rate)) * 1000;
    if (Math.abs(step) > toleranceMs) gaps.push({ at: audio.frames[i]!.pts, ms: step });
  }
  return gaps;
}

// ---------------------------------------------------------------------------------------------
// The offset

export interface Gap {
  /** Where the next samples start (s, the file's timeline). */
  at: number;
  /** + a hole of that many ms, − an overlap. */
  ms: number;
}

export interface BeepOffset {
  /** The beep's index in the page's list. */
  beep: number;
  /** Its onset on the audio timeline, s. */
  audioPts: number;
  /** Where the video shows its wall clock, s. */
  videoPts: number;
  /** audioPts − videoPts, ms: positive when the audio is late. */
  offsetMs: number;
  /** Onset − the first video frame's pts, s. */
  sinceStart: number;
  /** pts − painted clock of the frames around it: 10th–90th percentile range, ms (paint/capture jitter). */
  videoSpreadMs: number;
  /**
   * Audio since the previous beep heard minus the page's time between the two beeps, ms: − audio
   * lost (content missing though timestamps run on), + audio added; NaN for the first beep.
   */
  audioStepMs: number;
}

export interface AvAnalysis {
  offsets: BeepOffset[];
  /** Video frames decoded, and how many had a readable clock. */
  frames: number;
  readable: number;
  /** pts − painted clock over the readable frames (ms): its 10th–90th percentile range (capture jitter + decoding). */
  videoJitterMs: number;
  firstVideoPts: number;
  firstAudioPts: number;
  /** Onsets found that matched no beep within half a period (should be none). */
  unmatched: number;
  /** How the beeps' wall clocks were had: their uncertainty, and how disturbed the page was. */
  beepClock: BeepClock;
  /**
   * Steps of the video timeline that the painted clock does not make (pts step − clock step,
   * beyond VIDEO_JUMP_MS): the timeline jumped, or a frame was captured late (a loaded page).
   */
  videoJumps: Gap[];
}

/**
 * Where (s) on the video timeline the wall clock `wall` is shown: the median of pts − clock over
 * the frames painted within FIT_WINDOW_MS of it; and the 10th–90th percentile range of those.
 */
function videoPtsOf(frames: { pts: number; wall: number }[], wall: number): { pts: number; spreadMs: number } | null {
  const d = frames.filter((f) => Math.abs(f.wall - wall) <= FIT_WINDOW_MS).map((f) => f.pts * 1000 - f.wall);
  if (d.length < 5) return null;
  return { pts: (wall + median(d)) / 1000, spreadMs: quantile(d, 0.9) - quantile(d, 0.1) };
}

/** The offset of every beep heard in `file`; `beeps` as the page recorded them. */
export async function analyseFile(file: string, beeps: Beep[]): Promise<AvAnalysis & { audio: DecodedAudio }> {
  const { walls, ...clock } = beepClock(beeps);
  const near = walls.at(-1) ?? Date.now();
  const [video, audio] = await Promise.all([decodeVideo(file, near), decodeAudio(file)]);
  const readable = video.filter((f): f is { pts: number; wall: number } => f.wall !== null);
  if (readable.length < 10) throw new Error(`only ${readable.length} of ${video.length} frames have a readable clock`);
  const firstVideoPts = Math.min(...video.map((f) => f.pts));
  const offsets: BeepOffset[] = [];
  let unmatched = 0;
  for (const onset of beepOnsets(audio)) {
    // The wall clock the video shows at the onset's pts, then the beep nearest to it.
    const nearby = readable.filter((f) => Math.abs(f.pts - onset) * 1000 <= FIT_WINDOW_MS);
    if (nearby.length < 5) continue;
    const shownWall = onset * 1000 - median(nearby.map((f) => f.pts * 1000 - f.wall));
    let best = -1;
    for (let i = 0; i < walls.length; i++) if (best < 0 || Math.abs(walls[i]! - shownWall) < Math.abs(walls[best]! - shownWall)) best = i;
    if (best < 0 || Math.abs(walls[best]! - shownWall) > BEEP_PERIOD_MS / 2) {
      unmatched++;
      continue;
    }
    const shown = videoPtsOf(readable, walls[best]!);
    if (shown === null) continue;
    const previous = offsets.at(-1);
    const audioStepMs = previous ? (onset - previous.audioPts) * 1000 - (walls[best]! - walls[previous.beep]!) : NaN;
    offsets.push({ beep: best, audioPts: onset, videoPts: shown.pts, offsetMs: (onset - shown.pts) * 1000, sinceStart: onset - firstVideoPts, videoSpreadMs: shown.spreadMs, audioStepMs });
  }
  const d = readable.map((f) => f.pts * 1000 - f.wall);
  const videoJumps: Gap[] = [];
  for (let i = 1; i < readable.length; i++) {
    const step = (readable[i]!.pts - readable[i - 1]!.pts) * 1000 - (readable[i]!.wall - readable[i - 1]!.wall);
    if (Math.abs(step) > VIDEO_JUMP_MS) videoJumps.push({ at: readable[i]!.pts, ms: step });
  }
  return {
    beepClock: clock,
    videoJumps,
    offsets,
    frames: video.length,
    readable: readable.length,
    videoJitterMs: quantile(d, 0.9) - quantile(d, 0.1),
    firstVideoPts,
    firstAudioPts: audio.frames[0]?.pts ?? NaN,
    unmatched,
    audio,
  };
}

// ---------------------------------------------------------------------------------------------
// LL-HLS: the first segments of a channel

export interface HlsSegment {
  msn: number;
  name: string;
  duration: number;
  discontinuity: boolean;
  init: string;
  data: Buffer;
}

/** The segments of one timeline (one init segment, no discontinuity): playable as one file. */
export interface HlsRun {
  init: string;
  initData: Buffer;
  segments: HlsSegment[];
}

interface PlaylistSegment {
  msn: number;
  name: string;
  duration: number;
  discontinuity: boolean;
  init: string;
}

/** The complete segments of a media playlist (EXTINF, EXT-X-MAP, EXT-X-DISCONTINUITY; parts ignored). */
export function parseSegments(playlist: string): PlaylistSegment[] {
  let msn = 0;
  let init = '';
  let discontinuity = false;
  let duration: number | null = null;
  const out: PlaylistSegment[] = [];
  for (const line of playlist.split('\n').map((l) => l.trim())) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) msn = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-MAP:')) init = /URI="([^"]+)"/.exec(line)?.[1] ?? '';
    else if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (line.startsWith('#EXTINF:')) duration = parseFloat(line.slice(8));
    else if (line && !line.startsWith('#') && duration !== null) {
      out.push({ msn: msn++, name: line, duration, discontinuity, init });
      discontinuity = false;
      duration = null;
    }
  }
  return out;
}

/**
 * Fetches a live channel's LL-HLS segments from the first one on, as they complete, until they
 * hold `seconds` of media; grouped into runs (a new init segment or a discontinuity starts one).
 * Must start within the playlist's window (≥ 9 s at 1 s segments) of the channel's start.
 */
export async function fetchHlsStart(baseUrl: string, channelId: string, seconds: number, timeoutMs = seconds * 1000 + 30_000): Promise<HlsRun[]> {
  const url = (name: string) => `${baseUrl}/hls/${channelId}/${name}`;
  const get = async (name: string) => {
    const response = await fetch(url(name));
    if (!response.ok) throw new Error(`GET ${name}: ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  };
  const deadline = Date.now() + timeoutMs;
  const segments: HlsSegment[] = [];
  const inits = new Map<string, Buffer>();
  let total = 0;
  while (total < seconds) {
    if (Date.now() > deadline) throw new Error(`only ${total.toFixed(1)} s of HLS after ${timeoutMs} ms`);
    const response = await fetch(url(`index.m3u8${segments.length > 0 ? `?_HLS_msn=${segments.at(-1)!.msn + 1}` : ''}`));
    if (response.status === 404) {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    const listed = parseSegments(await response.text());
    // The playlist lists complete segments only once they have an EXTINF; the open one has none.
    if (segments.length === 0 && listed.length > 0 && listed[0]!.msn !== 0) throw new Error(`segment 0 already left the window (first listed: ${listed[0]!.msn})`);
    for (const s of listed) {
      if (s.msn <= (segments.at(-1)?.msn ?? -1)) continue;
      if (s.msn !== (segments.at(-1)?.msn ?? -1) + 1) throw new Error(`segment ${segments.at(-1)!.msn + 1} was missed`);
      if (!inits.has(s.init)) inits.set(s.init, await get(s.init));
      segments.push({ ...s, data: await get(s.name) });
      total += s.duration;
    }
    if (listed.length === 0) await new Promise((r) => setTimeout(r, 200));
  }
  const runs: HlsRun[] = [];
  for (const s of segments) {
    const run = runs.at(-1);
    if (!run || s.discontinuity || run.init !== s.init) runs.push({ init: s.init, initData: inits.get(s.init)!, segments: [s] });
    else run.segments.push(s);
  }
  return runs;
}

/**
 * Steps in a run's audio timeline as the fragments declare it (tfdt and sample durations, as a
 * player reads them): + holes, − overlaps, ms; a fragment starting off where the previous one
 * ended, or audio samples declared longer or shorter than the codec's frame (FFmpeg stretches a
 * track's first sample back to 0: a frame of 1024 samples declared longer is a hole after it).
 * Also where audio and video start.
 */
export function fragmentTimeline(run: HlsRun): { gaps: Gap[]; audioStart: number; videoStart: number } {
  const tracks = readInit(run.initData);
  const audio: TrackSpan[] = [];
  let videoStart = NaN;
  for (const segment of run.segments) {
    for (const box of new BoxSplitter().push(segment.data)) {
      if (box.type !== 'moof') continue;
      const timing = readFragment(box.data, tracks);
      if (timing.video && Number.isNaN(videoStart)) videoStart = timing.video.start;
      if (timing.audio) audio.push(timing.audio);
    }
  }
  // The codec's frame (AAC: 1024 samples): what most samples last.
  const frame = median(audio.map((a) => a.duration / a.samples));
  const gaps: Gap[] = [];
  let end: number | null = null;
  for (const [i, a] of audio.entries()) {
    if (end !== null && Math.abs(a.start - end) * 1000 > GAP_TOLERANCE_MS) gaps.push({ at: a.start, ms: (a.start - end) * 1000 });
    // The last sample's duration is FFmpeg's guess (no next one yet) when the run ends.
    const stretch = a.duration - a.samples * frame;
    if (i < audio.length - 1 && Math.abs(stretch) * 1000 > GAP_TOLERANCE_MS) gaps.push({ at: a.start, ms: stretch * 1000 });
    end = a.start + a.duration;
  }
  return { gaps, audioStart: audio[0]?.start ?? NaN, videoStart };
}

export interface HlsAvResult extends AvAnalysis {
  /** Audio holes (+) and overlaps (−) in the first run, from its fragments. */
  gaps: Gap[];
  /** Runs (timelines) in what was fetched: more than one means FFmpeg restarted or the sender froze. */
  runs: number;
  /** Seconds of media analysed. */
  seconds: number;
}

/** The page's beep clock must be this good (ms: calibration plus slips) for offsets to mean anything. */
export const MAX_CLOCK_UNCERTAINTY_MS = 5;

/**
 * Whether the page kept its beeps on a steady clock: calibration and slips of its audio output
 * within MAX_CLOCK_UNCERTAINTY_MS. On a loaded machine the page's renderer runs late and slips,
 * and its offsets measure that, not the pipeline.
 */
export const measurable = (r: Pick<AvAnalysis, 'beepClock'>): boolean => r.beepClock.uncertaintyMs + r.beepClock.slipMs <= MAX_CLOCK_UNCERTAINTY_MS;

/** Fetches a channel's first `seconds` of LL-HLS and measures the A/V offset of every beep in its first run. */
export async function analyseHlsStart(baseUrl: string, channelId: string, beeps: () => Promise<Beep[]>, seconds: number): Promise<HlsAvResult> {
  const runs = await fetchHlsStart(baseUrl, channelId, seconds);
  const run = runs[0]!;
  const runSeconds = run.segments.reduce((sum, s) => sum + s.duration, 0);
  if (runSeconds < 2) throw new Error(`the first timeline lasted ${runSeconds.toFixed(1)} s (then ${runs.length - 1} more: FFmpeg restarted or the sender froze)`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-avsync-'));
  try {
    const file = path.join(dir, 'start.mp4');
    await writeFile(file, Buffer.concat([run.initData, ...run.segments.map((s) => s.data)]));
    const pageBeeps = await beeps();
    await writeFile(path.join(dir, 'beeps.json'), JSON.stringify(pageBeeps));
    const { audio: _audio, ...analysis } = await analyseFile(file, pageBeeps);
    return { ...analysis, gaps: fragmentTimeline(run).gaps, runs: runs.length, seconds: runSeconds };
  } finally {
    await keepOrRemove(dir, channelId);
  }
}

/** The same on a recording of the source itself (the page's MediaRecorder, webm): the baseline. */
export async function analyseRecording(webm: Buffer, beeps: Beep[]): Promise<AvAnalysis & { gaps: Gap[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-avsync-'));
  try {
    const file = path.join(dir, 'recording.webm');
    await writeFile(file, webm);
    await writeFile(path.join(dir, 'beeps.json'), JSON.stringify(beeps));
    const { audio, ...analysis } = await analyseFile(file, beeps);
    // WebM times are whole milliseconds: steps of up to 1 ms are rounding.
    return { ...analysis, gaps: decodedGaps(audio, 1.5) };
  } finally {
    await keepOrRemove(dir, 'recording');
  }
}

/** AVSYNC_KEEP=<folder>: the analysed files are moved there (to look at them) instead of deleted. */
async function keepOrRemove(dir: string, name: string): Promise<void> {
  const keep = process.env.AVSYNC_KEEP;
  if (keep) await rename(dir, path.join(keep, `${name}-${Date.now()}`)).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (pos - lo);
}

export const median = (values: number[]) => quantile(values, 0.5);
