import { describe, expect, it } from 'vitest';
import { ffmpegFmp4Args } from './ffmpeg-args.js';

const base = { sdpPath: '/run/c.sdp', fragmentMicros: 66_000, keyFrameSeconds: 1 };
const valueOf = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('ffmpegFmp4Args', () => {
  it('copies H264 video and turns Opus into AAC', () => {
    const args = ffmpegFmp4Args({ ...base, video: 'copy' });
    expect(valueOf(args, '-c:v')).toBe('copy');
    expect(valueOf(args, '-c:a')).toBe('aac');
    expect(args).not.toContain('libx264');
  });

  it('transcodes with a key frame every segment target when the input is not H264', () => {
    const args = ffmpegFmp4Args({ ...base, video: 'h264' });
    expect(valueOf(args, '-c:v')).toBe('libx264');
    expect(valueOf(args, '-force_key_frames')).toBe('expr:gte(t,n_forced*1)');
  });

  it('reads the SDP with RTP allowed and writes small self-contained fMP4 fragments to standard output', () => {
    const args = ffmpegFmp4Args({ ...base, video: 'copy' });
    expect(valueOf(args, '-protocol_whitelist')).toBe('file,udp,rtp');
    expect(valueOf(args, '-i')).toBe('/run/c.sdp');
    expect(valueOf(args, '-f')).toBe('mp4');
    expect(valueOf(args, '-movflags')).toBe('+frag_keyframe+empty_moov+default_base_moof');
    expect(valueOf(args, '-frag_duration')).toBe('66000');
    expect(args.at(-1)).toBe('pipe:1');
  });

  it('writes one fMP4 per simulcast layer through the tee muxer, each with the audio encoded once: the top layer on standard output, the others on pipes 3, 4 …', () => {
    const args = ffmpegFmp4Args({ ...base, video: 'copy', layers: 3 });
    const maps = args.flatMap((a, i) => (a === '-map' ? [args[i + 1]] : []));
    expect(maps).toEqual(['0:v:2', '0:v:0', '0:v:1', '0:a:0']);
    expect(valueOf(args, '-c:v')).toBe('copy');
    expect(args.filter((a) => a === '-c:a')).toHaveLength(1);
    expect(valueOf(args, '-f')).toBe('tee');
    const slaves = args.at(-1)!.split('|');
    expect(slaves.map((slave) => /select='(.*?)'.*\](.*)$/.exec(slave)!.slice(1))).toEqual([
      ['v\\:0,a', 'pipe\\:1'],
      ['v\\:1,a', 'pipe\\:3'],
      ['v\\:2,a', 'pipe\\:4'],
    ]);
    for (const slave of slaves) expect(slave).toContain('movflags=+frag_keyframe+empty_moov+default_base_moof:frag_duration=66000');
  });
});
