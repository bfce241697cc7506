export interface HlsOutputOptions {
  sdpPath: string;
  /** FFmpeg cuts a fragment at least this often (µs): the packager builds parts of whole fragments. */
  fragmentMicros: number;
  /** Key frames are forced at this interval when video is re-encoded, seconds. */
  keyFrameSeconds: number;
  /** 'copy' passes the browser's H264 through; 'h264' re-encodes (needed for VP8 input). */
  video: 'copy' | 'h264';
  /**
   * Several renditions, each an output of its own with the audio: the top one on `pipe:1`, the
   * others on `pipe:3`, `pipe:4` … from low to high. Absent: one video stream, one output.
   * - `layers`: the SDP's video streams are simulcast layers (low to high), each passed through.
   * - `ladder`: a one-layer H264 source transcoded into `count` rungs: the top one is the source
   *   copied, each lower one half the height of the one above, encoded with libx264 from the
   *   source's own frames (same timestamps, no frame added or dropped) with a key frame exactly
   *   where the source has one, so that a rung's segment starts with a key frame when the source's does.
   */
  renditions?: { kind: 'layers' | 'ladder'; count: number };
}

/** The transcoded ladder (HLS_LADDER): the source, ½ and ¼ of its height, as simulcast sends. */
export const LADDER_RUNGS = 3;

/** Each lower rung's bit-rate cap (kbit/s), low to high: about what Chromium's simulcast gives its layers. */
const LADDER_MAX_KBPS = [250, 700];

/**
 * FFmpeg command line: RTP described by an SDP in, fragmented MP4 out on standard output, about
 * one fragment per frame (and one at every key frame), for the server's LL-HLS packager. FFmpeg
 * 5.1's HLS muxer cannot write LL-HLS parts; its fMP4 fragments are what parts are made of.
 */
/** fMP4 as the packager reads it. */
const FMP4 = {
  // empty_moov: the init segment first; default_base_moof: fragments that stand alone (CMAF);
  // frag_keyframe: a fragment starts at every key frame, where segments are cut.
  movflags: '+frag_keyframe+empty_moov+default_base_moof',
};
const AAC = ['-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000'];
/** libx264 for live viewing: no B-frames or lookahead (latency), Constrained Baseline (what WebRTC and every player decode). */
const LIVE_X264 = { c: 'libx264', preset: 'veryfast', tune: 'zerolatency', profile: 'baseline' };

export function ffmpegFmp4Args(o: HlsOutputOptions): string[] {
  const input = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning', '-protocol_whitelist', 'file,udp,rtp', '-i', o.sdpPath];
  const fragment = String(Math.round(o.fragmentMicros));
  const outputs = o.renditions?.count ?? 1;
  if (o.renditions && outputs > 1) {
    // The video streams' order: the top one first (pipe:1), then the others low to high.
    const video = o.renditions.kind === 'ladder' ? ladderVideo(outputs) : [...Array.from({ length: outputs }, (_, i) => ['-map', `0:v:${(i + outputs - 1) % outputs}`]).flat(), '-c:v', 'copy'];
    // The tee cannot tell the encoder that MP4 wants the AAC config out of band.
    return [...input, ...renditionOutputs(video, [...AAC, '-flags:a', '+global_header'], outputs, o.fragmentMicros)];
  }
  const video =
    o.video === 'copy'
      ? ['-c:v', 'copy']
      : [...streamOptions('v', LIVE_X264), '-force_key_frames', `expr:gte(t,n_forced*${o.keyFrameSeconds})`];
  return [
    ...input,
    '-map', '0:v:0', '-map', '0:a:0',
    ...video,
    ...AAC,
    '-f', 'mp4',
    '-movflags', FMP4.movflags,
    '-frag_duration', fragment,
    '-flush_packets', '1',
    'pipe:1',
  ];
}

/**
 * Several renditions as one output through the tee muxer: `video` maps the renditions' video
 * (the top one first, then the others low to high), `audio` says how the one audio is made; it
 * is made once and muxed into every rendition's fMP4 (an output per rendition would encode it
 * once each: 2.2x the CPU). The top rendition goes to `pipe:1`, the others to `pipe:3`, `pipe:4` ….
 */
export function renditionOutputs(video: string[], audio: string[], outputs: number, fragmentMicros: number): string[] {
  const fragment = String(Math.round(fragmentMicros));
  // Inside the tee's list a colon is escaped with a backslash, or it separates options.
  const slaves = Array.from({ length: outputs }, (_, i) => `[f=mp4:select='v\\:${i},a':movflags=${FMP4.movflags}:frag_duration=${fragment}:flush_packets=1]pipe\\:${i === 0 ? 1 : 2 + i}`);
  return [
    ...video, '-map', '0:a:0',
    ...audio,
    // A layer that pauses must not hold the others' fragments back for the default 10 s.
    '-max_interleave_delta', '500000',
    '-f', 'tee', slaves.join('|'),
  ];
}

/** `-option:stream value` for each option. */
const streamOptions = (stream: string, options: Record<string, string>): string[] => Object.entries(options).flatMap(([option, value]) => [`-${option}:${stream}`, value]);

/**
 * The ladder's video: the source copied as the top rung; below it, rung k of n (0 the lowest) is
 * the decoded source scaled to 1/2^(n-1-k) of its height (even, at least 2 px, as H264 wants).
 * The rung sizes are set by the first frame: a source that changes its size later keeps them.
 */
export function ladderVideo(rungs: number): string[] {
  const lower = rungs - 1;
  const scales = Array.from({ length: lower }, (_, k) => `scale=-2:'max(2,trunc(ih/${2 ** (lower - k + 1)})*2)'[r${k}]`);
  const split = lower > 1 ? `[0:v:0]split=${lower}${Array.from({ length: lower }, (_, k) => `[s${k}]`).join('')};` : '';
  const graph = split + scales.map((scale, k) => `${lower > 1 ? `[s${k}]` : '[0:v:0]'}${scale}`).join(';');
  const encoders = Array.from({ length: lower }, (_, k) => {
    const kbps = LADDER_MAX_KBPS[Math.min(k, LADDER_MAX_KBPS.length - 1)]!;
    // Per stream: options meant for an encoder break the copied top one.
    return streamOptions(`v:${k + 1}`, {
      ...LIVE_X264,
      pix_fmt: 'yuv420p',
      sc_threshold: '0',
      maxrate: `${kbps}k`,
      bufsize: `${kbps * 2}k`,
      force_key_frames: 'source',
      // No key frame of x264's own (it would add one every 250 frames): a rung's key frames are
      // the source's, one to one, and its renditions are matched by them (see sameFrames).
      g: '1000000',
      // The source's frames and timestamps as they are (FFmpeg would otherwise add or drop frames
      // to a constant rate and round the times): the renditions' frames then match one to one.
      fps_mode: 'passthrough',
      enc_time_base: '1:90000',
      // The tee cannot tell the encoder that MP4 wants SPS/PPS out of band.
      flags: '+global_header',
    });
  }).flat();
  return ['-filter_complex', graph, '-map', '0:v:0', ...Array.from({ length: lower }, (_, k) => ['-map', `[r${k}]`]).flat(), '-c:v:0', 'copy', ...encoders];
}
