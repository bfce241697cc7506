import { describe, expect, it } from 'vitest';
import { ffmpegHlsArgs } from './ffmpeg-args.js';

const base = { sdpPath: '/run/c.sdp', outDir: '/hls/c', segmentSeconds: 1, listSize: 4 };
const valueOf = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('ffmpegHlsArgs', () => {
  it('copies H264 video and turns Opus into AAC', () => {
    const args = ffmpegHlsArgs({ ...base, video: 'copy' });
    expect(valueOf(args, '-c:v')).toBe('copy');
    expect(valueOf(args, '-c:a')).toBe('aac');
    expect(args).not.toContain('libx264');
  });

  it('transcodes with key frames on segment boundaries when the input is not H264', () => {
    const args = ffmpegHlsArgs({ ...base, video: 'h264', segmentSeconds: 0.5 });
    expect(valueOf(args, '-c:v')).toBe('libx264');
    expect(valueOf(args, '-force_key_frames')).toBe('expr:gte(t,n_forced*0.5)');
  });

  it('continues the playlist after a restart, with a discontinuity', () => {
    expect(valueOf(ffmpegHlsArgs({ ...base, video: 'copy' }), '-hls_flags')).not.toContain('append_list');
    const flags = valueOf(ffmpegHlsArgs({ ...base, video: 'copy', resume: true }), '-hls_flags');
    expect(flags).toContain('append_list');
    expect(flags).toContain('discont_start');
    expect(flags).toContain('delete_segments');
  });

  it('reads the SDP with RTP allowed and writes a short, self-cleaning live window', () => {
    const args = ffmpegHlsArgs({ ...base, video: 'copy' });
    expect(valueOf(args, '-protocol_whitelist')).toBe('file,udp,rtp');
    expect(valueOf(args, '-i')).toBe('/run/c.sdp');
    expect(valueOf(args, '-hls_time')).toBe('1');
    expect(valueOf(args, '-hls_list_size')).toBe('4');
    expect(valueOf(args, '-hls_flags')).toContain('delete_segments');
    expect(valueOf(args, '-hls_segment_filename')).toBe('/hls/c/seg_%05d.ts');
    expect(args.at(-1)).toBe('/hls/c/index.m3u8');
  });
});
