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
export function ffmpegFmp4Args(o: HlsOutputOptions): string[] {
  const video =
    o.video === 'copy'
      ? ['-c:v', 'copy']
      : [
          '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline',
          '-force_key_frames', `expr:gte(t,n_forced*${o.keyFrameSeconds})`,
        ];
  const output = (videoStream: number, pipe: number) => [
    '-map', `0:v:${videoStream}`, '-map', '0:a:0',
    ...video,
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000',
    '-f', 'mp4',
    // empty_moov: the init segment first; default_base_moof: fragments that stand alone (CMAF);
    // frag_keyframe: a fragment starts at every key frame, where segments are cut.
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof',
    '-frag_duration', String(Math.round(o.fragmentMicros)),
    '-flush_packets', '1',
    `pipe:${pipe}`,
  ];
  const layers = o.layers ?? 1;
  const top = output(layers - 1, 1);
  const lower = Array.from({ length: layers - 1 }, (_, layer) => output(layer, 3 + layer));
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning',
    '-protocol_whitelist', 'file,udp,rtp',
    '-i', o.sdpPath,
    ...top,
    ...lower.flat(),
  ];
}
