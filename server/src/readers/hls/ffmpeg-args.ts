import path from 'node:path';
import { HLS_PLAYLIST_FILE, HLS_SEGMENT_TEMPLATE } from '../../../../protocol/ids.js';

export interface HlsOutputOptions {
  sdpPath: string;
  outDir: string;
  segmentSeconds: number;
  listSize: number;
  /** 'copy' passes the browser's H264 through; 'h264' re-encodes (needed for VP8 input). */
  video: 'copy' | 'h264';
  /** Continue an existing playlist after a restart: same numbering, a discontinuity first. */
  resume?: boolean;
}

/** FFmpeg command line: RTP described by an SDP in, a short live HLS window out. */
export function ffmpegHlsArgs(o: HlsOutputOptions): string[] {
  const video =
    o.video === 'copy'
      ? ['-c:v', 'copy']
      : [
          '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline',
          // Key frames exactly on segment boundaries, whatever the source's key-frame pattern.
          '-force_key_frames', `expr:gte(t,n_forced*${o.segmentSeconds})`,
        ];
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning',
    '-protocol_whitelist', 'file,udp,rtp',
    '-i', o.sdpPath,
    '-map', '0:v:0', '-map', '0:a:0',
    ...video,
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000',
    '-f', 'hls',
    '-hls_time', String(o.segmentSeconds),
    '-hls_list_size', String(o.listSize),
    // program_date_time lets players measure latency against the wall clock.
    '-hls_flags', `delete_segments+independent_segments+program_date_time${o.resume ? '+append_list+discont_start' : ''}`,
    '-hls_segment_filename', path.join(o.outDir, HLS_SEGMENT_TEMPLATE),
    path.join(o.outDir, HLS_PLAYLIST_FILE),
  ];
}
