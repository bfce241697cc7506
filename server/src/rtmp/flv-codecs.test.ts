import { describe, expect, it } from 'vitest';
import { FLV_AUDIO, FLV_VIDEO, flvCodecProblem } from './flv-codecs.js';

describe('flvCodecProblem', () => {
  it('takes H264 video and AAC audio', () => {
    expect(flvCodecProblem(FLV_VIDEO, Buffer.from([0x17, 0x00]))).toBeNull(); // key frame, AVC sequence header
    expect(flvCodecProblem(FLV_VIDEO, Buffer.from([0x27, 0x01]))).toBeNull(); // inter frame, AVC NALU
    expect(flvCodecProblem(FLV_AUDIO, Buffer.from([0xaf, 0x01]))).toBeNull(); // AAC, 44 kHz, 16 bit, stereo
  });

  it('names what it refuses: enhanced-RTMP HEVC, legacy video codecs, MP3 audio', () => {
    expect(flvCodecProblem(FLV_VIDEO, Buffer.concat([Buffer.from([0x90]), Buffer.from('hvc1')]))).toMatch(/HEVC video \(enhanced RTMP\); livecast takes H264/);
    expect(flvCodecProblem(FLV_VIDEO, Buffer.from([0x12]))).toMatch(/Sorenson H\.263 video/);
    expect(flvCodecProblem(FLV_AUDIO, Buffer.from([0x2f]))).toMatch(/MP3 audio; livecast takes AAC/);
  });

  it('lets script data and empty tags pass', () => {
    expect(flvCodecProblem(18, Buffer.from([0x02]))).toBeNull();
    expect(flvCodecProblem(FLV_VIDEO, Buffer.alloc(0))).toBeNull();
  });
});
