import type { types } from 'mediasoup';
import { describe, expect, it } from 'vitest';
import { refuseUnsupportedParameters } from './codecs.js';

const router: types.RtpCapabilities = {
  codecs: [
    { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 },
    { kind: 'video', mimeType: 'video/H264', clockRate: 90000, preferredPayloadType: 101 },
    { kind: 'video', mimeType: 'video/rtx', clockRate: 90000, preferredPayloadType: 102 },
  ],
};
const params = (...mimeTypes: string[]): types.RtpParameters => ({
  codecs: mimeTypes.map((mimeType, i) => ({ mimeType, payloadType: 100 + i, clockRate: 90000 })),
});

describe('refuseUnsupportedParameters', () => {
  it('accepts what the router carries, in any letter case, with RTX', () => {
    expect(() => refuseUnsupportedParameters('video', params('video/h264', 'video/rtx'), router)).not.toThrow();
    expect(() => refuseUnsupportedParameters('audio', params('audio/OPUS'), router)).not.toThrow();
  });
  it('refuses a codec of the other kind', () => {
    expect(() => refuseUnsupportedParameters('audio', params('video/H264'), router)).toThrow('an audio track cannot carry video/H264');
    expect(() => refuseUnsupportedParameters('video', params('audio/opus'), router)).toThrow('a video track cannot carry audio/opus');
  });
  it('refuses a codec the router does not carry', () => {
    expect(() => refuseUnsupportedParameters('video', params('video/AV1'), router)).toThrow('unsupported codec video/AV1');
  });
});
