/**
 * The packaging side of bench/packaging-cost.ts, in a node process of its own so that its CPU
 * (read from /proc by the parent) is the packaging's and nothing else's. Started by the parent
 * with an IPC channel; it starts one FFmpeg per channel and then:
 *   - new: FFmpeg writes fMP4 to its stdout (ffmpegFmp4Args, video copied), read into an
 *     LlPackager exactly as HlsPipeline.outputReader() does, and the LL-HLS playlist (full and
 *     delta) is written on every change, as blocked players ask for it then;
 *   - old: FFmpeg's HLS muxer writes 0.5 s segments to disk and OldLivePlaylist holds the
 *     playlist and segments in memory, as the server did before issue 13.
 *
 * Messages: parent → start (mode, channels) | progress | restart (channels whose FFmpeg did not
 * start) | stop; worker → up | ready (FFmpeg pids) | progress (segments, running, CPU spent).
 * A restart is what HlsPipeline does when FFmpeg dies: on a busy machine an FFmpeg sometimes gives
 * up probing its RTP input ("Could not find codec parameters") at start.
 */
import { mkdir, rm } from 'node:fs/promises';
import { loadConfig } from '../server/src/config.js';
import { createLogger } from '../server/src/logger.js';
import { ffmpegFmp4Args } from '../server/src/readers/hls/ffmpeg-args.js';
import { FfmpegProcess } from '../server/src/readers/hls/ffmpeg-process.js';
import { BoxSplitter, readFragment, readInit, type TrackInfo } from '../server/src/readers/hls/fmp4.js';
import { LlPackager } from '../server/src/readers/hls/ll-packager.js';
import { LlHlsStream } from '../server/src/readers/hls/ll-stream.js';
import { waitForUdpPorts } from '../server/src/readers/hls/udp-listeners.js';
import { OldLivePlaylist, oldFfmpegHlsArgs } from './old-hls.js';

export type PackagingMode = 'old' | 'new';

export interface WorkerChannel {
  sdpPath: string;
  /** Where the old setup's FFmpeg writes its files. */
  outDir: string;
  /** FFmpeg's video and audio RTP ports (RTCP on the next ones). */
  rtpPorts: [number, number];
}

export type ToWorker =
  | { type: 'start'; mode: PackagingMode; channels: WorkerChannel[] }
  | { type: 'progress' }
  | { type: 'restart'; indexes: number[] }
  | { type: 'stop' };
/** CPU milliseconds spent so far (all channels) in the new setup's synchronous steps. */
export interface Spent {
  /** Splitting boxes, mp4box parsing of moov/moof, joining moof + mdat. */
  reading: number;
  /** LlPackager.setInit/addFragment, without the playlist writing they trigger. */
  packaging: number;
  /** Writing the playlists (full and delta) on every change. */
  playlists: number;
}

export type FromWorker =
  | { type: 'up' }
  | { type: 'ready'; ffmpegPids: number[] }
  /** Per channel: the newest complete segment's number (-1: none yet) and whether its FFmpeg runs. */
  | { type: 'progress'; segments: number[]; running: boolean[]; spent: Spent }
  | { type: 'error'; message: string };

/** As HlsPipeline's FRAGMENT_MICROS: at most one video frame per fragment. */
const FRAGMENT_MICROS = 25_000;
/** The old setup's defaults (HLS_SEGMENT_SECONDS, HLS_LIST_SIZE before issue 13). */
const OLD_SEGMENT_SECONDS = 0.5;
const OLD_LIST_SIZE = 6;

// FFmpeg's unexpected stderr lines go to this process's stderr (stdout carries the tables).
const logger = createLogger('warn', process.stderr);
const hls = loadConfig({}).hls;

interface Running {
  ffmpeg: FfmpegProcess;
  newestSegment: () => number;
  close: () => void;
}
let mode: PackagingMode = 'new';
let channels: WorkerChannel[] = [];
const running: Running[] = [];

const send = (message: FromWorker) => process.send!(message);
/**
 * Where the node side's CPU goes: the process's CPU time (getrusage, so GC threads working at the
 * same moment count too) read around each step. Not wall time: on a loaded machine a step can be
 * descheduled halfway. A read costs about a microsecond, little next to the steps.
 */
const spent: Spent = { reading: 0, packaging: 0, playlists: 0 };
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Copy of HlsPipeline.outputReader(): the init segment, then fragments, into the packager (timed). */
function outputReader(packager: LlPackager): (chunk: Buffer) => void {
  const splitter = new BoxSplitter();
  let ftyp: Buffer | null = null;
  let moof: Buffer | null = null;
  let tracks: TrackInfo[] | null = null;
  return (chunk) => {
    let t = cpuMs();
    const lap = (what: 'reading' | 'packaging') => {
      const now = cpuMs();
      spent[what] += now - t;
      t = now;
    };
    for (const box of splitter.push(chunk)) {
      if (box.type === 'ftyp') ftyp = box.data;
      else if (box.type === 'moov') {
        tracks = readInit(box.data);
        const init = Buffer.concat(ftyp ? [ftyp, box.data] : [box.data]);
        lap('reading');
        packager.setInit(init);
        lap('packaging');
      } else if (box.type === 'moof') moof = box.data;
      else if (box.type === 'mdat' && moof && tracks) {
        const primary = tracks.some((t) => t.kind === 'video') ? 'video' : 'audio';
        const data = Buffer.concat([moof, box.data]);
        const timing = readFragment(moof, tracks);
        lap('reading');
        packager.addFragment(data, timing, Date.now(), primary);
        lap('packaging');
        moof = null;
      }
    }
    lap('reading');
  };
}

function startNew(channel: WorkerChannel): Running {
  const packager = new LlPackager({ partTarget: hls.partSeconds, segmentTarget: hls.segmentSeconds, now: Date.now });
  const stream = new LlHlsStream(packager);
  // Serving writes each playlist once per change, however many players ask (LlHlsStream caches
  // it): both kinds are written here on every change, as both kinds of request come then.
  packager.onChange(() => {
    if (!stream.ready) return;
    const t = cpuMs();
    stream.playlist(false);
    stream.playlist(true);
    const ms = cpuMs() - t;
    // Changes are emitted from inside setInit/addFragment, which are timed as packaging.
    spent.playlists += ms;
    spent.packaging -= ms;
  });
  const args = ffmpegFmp4Args({ sdpPath: channel.sdpPath, fragmentMicros: FRAGMENT_MICROS, keyFrameSeconds: hls.segmentSeconds, video: 'copy' });
  const ffmpeg = new FfmpegProcess(hls.ffmpegPath, args, logger, outputReader(packager));
  return { ffmpeg, newestSegment: () => packager.lastCompleteMsn, close: () => stream.close() };
}

async function startOld(channel: WorkerChannel): Promise<Running> {
  await rm(channel.outDir, { recursive: true, force: true });
  await mkdir(channel.outDir, { recursive: true });
  const playlist = new OldLivePlaylist(channel.outDir);
  const args = oldFfmpegHlsArgs({ sdpPath: channel.sdpPath, outDir: channel.outDir, segmentSeconds: OLD_SEGMENT_SECONDS, listSize: OLD_LIST_SIZE });
  const ffmpeg = new FfmpegProcess(hls.ffmpegPath, args, logger);
  return { ffmpeg, newestSegment: () => playlist.newestSegment, close: () => playlist.close() };
}

/** Starts the FFmpegs of the given channels and waits until they listen. */
async function startChannels(indexes: number[]): Promise<void> {
  for (const i of indexes) running[i] = mode === 'new' ? startNew(channels[i]!) : await startOld(channels[i]!);
  await waitForUdpPorts(indexes.flatMap((i) => channels[i]!.rtpPorts), { timeoutMs: 15_000 });
  // A port can be bound by someone else too (the machine is shared): FFmpeg then exits.
  await new Promise((r) => setTimeout(r, 500));
  if (!indexes.every((i) => running[i]!.ffmpeg.running)) throw new Error('an FFmpeg exited at start (a port taken by another process?)');
  send({ type: 'ready', ffmpegPids: running.map((r) => r.ffmpeg.pid!) });
}

async function stopChannel(i: number): Promise<void> {
  const r = running[i];
  if (!r) return;
  r.ffmpeg.kill();
  await r.ffmpeg.exited;
  r.close();
}

async function stop(): Promise<void> {
  await Promise.all(running.map((_, i) => stopChannel(i)));
  process.exit(0);
}

const fail = (error: unknown) => {
  send({ type: 'error', message: String(error) });
  void stop();
};

process.on('message', (message: ToWorker) => {
  if (message.type === 'start') {
    mode = message.mode;
    channels = message.channels;
    startChannels(channels.map((_, i) => i)).catch(fail);
  } else if (message.type === 'restart') {
    Promise.all(message.indexes.map((i) => stopChannel(i)))
      .then(() => startChannels(message.indexes))
      .catch(fail);
  } else if (message.type === 'progress') {
    send({ type: 'progress', segments: running.map((r) => r.newestSegment()), running: running.map((r) => r.ffmpeg.running), spent: { ...spent } });
  } else void stop();
});
// The parent went away: take the FFmpegs along (setpriv's death signal would too).
process.on('disconnect', () => void stop());
send({ type: 'up' });
