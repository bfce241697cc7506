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

  it('writes one output per simulcast layer, each with the audio: the top one on standard output, the others on pipes 3, 4 …', () => {
    const args = ffmpegFmp4Args({ ...base, video: 'copy', layers: 3 });
    const outputs = args.flatMap((a, i) => (a.startsWith('pipe:') ? [{ pipe: a, maps: mapsBefore(args, i) }] : []));
    expect(outputs).toEqual([
      { pipe: 'pipe:1', maps: ['0:v:2', '0:a:0'] },
      { pipe: 'pipe:3', maps: ['0:v:0', '0:a:0'] },
      { pipe: 'pipe:4', maps: ['0:v:1', '0:a:0'] },
    ]);
    expect(args.filter((a) => a === 'copy')).toHaveLength(3);
  });
});

/** The -map values of the output that ends at index `end`. */
function mapsBefore(args: string[], end: number): string[] {
  const start = args.slice(0, end).findLastIndex((a) => a.startsWith('pipe:')) + 1;
  return args.slice(start, end).flatMap((a, i, all) => (a === '-map' ? [all[i + 1]!] : []));
}
