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
    const args = ffmpegFmp4Args({ ...base, video: 'copy', renditions: { kind: 'layers', count: 3 } });
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

  it('a ladder: the source copied as the top rung on standard output, ½ and ¼ of its height encoded below it with key frames where the source has them, the audio encoded once', () => {
    const args = ffmpegFmp4Args({ ...base, video: 'copy', renditions: { kind: 'ladder', count: 3 } });
    expect(valueOf(args, '-filter_complex')).toBe("[0:v:0]split=2[s0][s1];[s0]scale=-2:'max(2,trunc(ih/8)*2)'[r0];[s1]scale=-2:'max(2,trunc(ih/4)*2)'[r1]");
    const maps = args.flatMap((a, i) => (a === '-map' ? [args[i + 1]] : []));
    expect(maps).toEqual(['0:v:0', '[r0]', '[r1]', '0:a:0']);
    expect(valueOf(args, '-c:v:0')).toBe('copy');
    for (const v of ['v:1', 'v:2']) {
      expect(valueOf(args, `-c:${v}`)).toBe('libx264');
      expect(valueOf(args, `-force_key_frames:${v}`)).toBe('source');
      expect(valueOf(args, `-profile:${v}`)).toBe('baseline');
      // The tee cannot ask the encoder for out-of-band SPS/PPS, which MP4 needs.
      expect(valueOf(args, `-flags:${v}`)).toBe('+global_header');
      // The source's frames and times, not a constant rate's.
      expect(valueOf(args, `-fps_mode:${v}`)).toBe('passthrough');
      expect(valueOf(args, `-enc_time_base:${v}`)).toBe('1:90000');
    }
    expect(Number.parseInt(valueOf(args, '-maxrate:v:1')!)).toBeLessThan(Number.parseInt(valueOf(args, '-maxrate:v:2')!));
    // Nothing meant for an encoder reaches the copied stream.
    expect(args.filter((a) => /^-(preset|tune|profile|pix_fmt|maxrate|force_key_frames|fps_mode)(:v)?$/.test(a))).toEqual([]);
    expect(args.filter((a) => a === '-c:a')).toHaveLength(1);
    expect(args.at(-1)!.split('|').map((slave) => /\](.*)$/.exec(slave)![1])).toEqual(['pipe\\:1', 'pipe\\:3', 'pipe\\:4']);
  });
});
