import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RTP_INGEST, type RtpIngest } from './rtp-ingest.js';

/**
 * What a test clip shows: a moving test pattern with a tone, or black with a white frame and a
 * 1 kHz beep at the start of every second (made together by FFmpeg, so exactly in sync: the
 * A/V sync test measures what the pipeline does to that).
 */
export type ClipContent = 'pattern' | 'flash-beep';

const CLIP_SOURCES: Record<ClipContent, (seconds: number) => string[]> = {
  pattern: (seconds) => [
    '-f', 'lavfi', '-i', `testsrc2=size=640x480:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
  ],
  'flash-beep': (seconds) => [
    '-f', 'lavfi', '-i', `color=c=black:size=640x480:rate=30:duration=${seconds},drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t,1),0.03)'`,
    '-f', 'lavfi', '-i', `aevalsrc=exprs='0.8*sin(2*PI*1000*t)*lt(mod(t,1),0.05)':s=48000:d=${seconds}`,
  ],
};

/**
 * A pre-encoded test clip (H264 Constrained Baseline with a key frame every 0.5 s + Opus, in
 * MPEG-TS),
 * made once per machine, so that feeding a channel costs a `-c copy` FFmpeg and not an encoder.
 */
export function testClip(seconds = 10, content: ClipContent = 'pattern'): string {
  const dir = path.join(os.tmpdir(), 'livecast-test-media');
  const file = path.join(dir, `clip-${content === 'pattern' ? '' : `${content}-`}${seconds}s-v4.ts`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.ts`;
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    ...CLIP_SOURCES[content](seconds),
    '-c:v', 'libx264', '-profile:v', 'baseline', '-level', '3.1', '-pix_fmt', 'yuv420p',
    // A key frame every 0.5 s, like a browser asked for one per default-length segment.
    '-g', '15', '-keyint_min', '15', '-sc_threshold', '0', '-bf', '0', '-b:v', '600k',
    // SPS/PPS in-band before every key frame, as browsers send them: the HLS FFmpeg reads an SDP
    // without sprop-parameter-sets. (MPEG-TS keeps them Annex B, so no bitstream filter is needed
    // when sending; FFmpeg 5.1 drops every packet after a -stream_loop wrap with one.)
    '-x264-params', 'repeat-headers=1',
    '-c:a', 'libopus', '-b:a', '64k', '-ac', '2',
    tmp,
  ]);
  if (result.status !== 0) throw new Error(`could not make the test clip: ${result.stderr.toString()}`);
  spawnSync('mv', [tmp, file]);
  return file;
}

/** Sources still running when the test process exits (a test failed before stopping them) die with it. */
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

/**
 * FFmpeg looping the test clip in real time as RTP into an ingest's ports, for at most `seconds`
 * (the soak benchmark runs longer than the default).
 */
export function startRtpSource(ingest: Pick<RtpIngest, 'video' | 'audio'>, clip = testClip(), seconds = 900, o: { fromPorts?: { video: number; audio: number } } = {}): ChildProcess {
  // fromPorts: send from fixed local ports (RTP, RTP + 1), so that a restarted source reaches a comedia ingest that locked onto the first one's.
  const rtp = (p: { rtpPort: number; rtcpPort: number }, from?: number) =>
    `rtp://127.0.0.1:${p.rtpPort}?rtcpport=${p.rtcpPort}&pkt_size=1200${from ? `&localrtpport=${from}&localrtcpport=${from + 1}` : ''}`;
  const child = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    // -t bounds the loop: if the test process dies without stopping it, it ends by itself.
    '-re', '-stream_loop', '-1', '-t', String(seconds), '-i', clip,
    '-map', '0:v:0', '-c', 'copy', '-payload_type', String(RTP_INGEST.video.payloadType),
    '-ssrc', String(RTP_INGEST.video.ssrc), '-f', 'rtp', rtp(ingest.video, o.fromPorts?.video),
    '-map', '0:a:0', '-c', 'copy', '-payload_type', String(RTP_INGEST.audio.payloadType),
    '-ssrc', String(RTP_INGEST.audio.ssrc), '-f', 'rtp', rtp(ingest.audio, o.fromPorts?.audio),
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
