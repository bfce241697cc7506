export interface HlsOutputOptions {
  sdpPath: string;
  /** FFmpeg cuts a fragment at least this often (µs): the packager builds parts of whole fragments. */
  fragmentMicros: number;
  /** Key frames are forced at this interval when video is re-encoded, seconds. */
  keyFrameSeconds: number;
  /** 'copy' passes the browser's H264 through; 'h264' re-encodes (needed for VP8 input). */
  video: 'copy' | 'h264';
  /**
   * Simulcast renditions: the SDP's video streams are layers (low to high), each passed through
   * into an output of its own with the audio: the top one on `pipe:1`, the others on `pipe:3`,
   * `pipe:4` … from low to high. Absent: one video stream, one output.
   */
  layers?: number;
}

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

export function ffmpegFmp4Args(o: HlsOutputOptions): string[] {
  const input = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning', '-protocol_whitelist', 'file,udp,rtp', '-i', o.sdpPath];
  const fragment = String(Math.round(o.fragmentMicros));
  const layers = o.layers ?? 1;
  if (layers > 1) {
    // One output through the tee muxer: the audio is encoded once and muxed into every
    // rendition's fMP4 (an output per rendition would encode it once each: 2.2x the CPU).
    const maps = [layers - 1, ...Array.from({ length: layers - 1 }, (_, layer) => layer)].flatMap((layer) => ['-map', `0:v:${layer}`]);
    // The tee's video streams are in `maps` order: the top layer first (pipe:1), then low to high.
    // Inside the tee's list a colon is escaped with a backslash, or it separates options.
    const slaves = Array.from({ length: layers }, (_, i) => `[f=mp4:select='v\\:${i},a':movflags=${FMP4.movflags}:frag_duration=${fragment}:flush_packets=1]pipe\\:${i === 0 ? 1 : 2 + i}`);
    return [
      ...input,
      ...maps, '-map', '0:a:0',
      '-c:v', 'copy',
      // The tee cannot tell the encoder that MP4 wants the AAC config out of band.
      ...AAC, '-flags:a', '+global_header',
      // A layer that pauses must not hold the others' fragments back for the default 10 s.
      '-max_interleave_delta', '500000',
      '-f', 'tee', slaves.join('|'),
    ];
  }
  const video =
    o.video === 'copy'
      ? ['-c:v', 'copy']
      : [
          '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline',
          '-force_key_frames', `expr:gte(t,n_forced*${o.keyFrameSeconds})`,
        ];
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
