import type { types } from 'mediasoup';
import { describe, expect, it } from 'vitest';
import { describeConsumerStream, writeSdp } from './sdp.js';

const h264Consumer: types.RtpParameters = {
  codecs: [
    {
      mimeType: 'video/H264',
      payloadType: 101,
      clockRate: 90000,
      parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
      rtcpFeedback: [],
    },
    { mimeType: 'video/rtx', payloadType: 102, clockRate: 90000, parameters: { apt: 101 }, rtcpFeedback: [] },
  ],
  encodings: [{ ssrc: 1111 }],
};
const opusConsumer: types.RtpParameters = {
  codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [] }],
  encodings: [{ ssrc: 2222 }],
};

describe('describeConsumerStream', () => {
  it('uses the consumer payload type and codec, skipping RTX', () => {
    expect(describeConsumerStream('video', 20000, h264Consumer)).toEqual({
      kind: 'video',
      port: 20000,
      payloadType: 101,
      encodingName: 'H264',
      clockRate: 90000,
      fmtp: 'packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1',
    });
  });

  it('keeps the channel count of audio', () => {
    expect(describeConsumerStream('audio', 20002, opusConsumer)).toMatchObject({ payloadType: 100, encodingName: 'opus', channels: 2 });
  });

  it('refuses a consumer without a media codec', () => {
    const rtxOnly = { ...h264Consumer, codecs: [h264Consumer.codecs[1]!] };
    expect(() => describeConsumerStream('video', 1, rtxOnly)).toThrow(/no media codec/);
  });
});

describe('writeSdp', () => {
  it('writes one m= section per stream with rtpmap and fmtp', () => {
    const sdp = writeSdp('livecast abc', '127.0.0.1', [
      describeConsumerStream('video', 20000, h264Consumer),
      describeConsumerStream('audio', 20002, opusConsumer),
    ]);
    expect(sdp).toBe(
      [
        'v=0',
        'o=- 0 0 IN IP4 127.0.0.1',
        's=livecast abc',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        'm=video 20000 RTP/AVP 101',
        'a=rtpmap:101 H264/90000',
        'a=fmtp:101 packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1',
        'a=recvonly',
        'm=audio 20002 RTP/AVP 100',
        'a=rtpmap:100 opus/48000/2',
        'a=fmtp:100 useinbandfec=1',
        'a=recvonly',
        '',
      ].join('\n'),
    );
  });

  it('omits the channel count for mono codecs and fmtp when there are no parameters', () => {
    const sdp = writeSdp('s', '127.0.0.1', [{ kind: 'audio', port: 5000, payloadType: 0, encodingName: 'PCMU', clockRate: 8000, channels: 1 }]);
    expect(sdp).toContain('a=rtpmap:0 PCMU/8000\n');
    expect(sdp).not.toContain('a=fmtp');
  });
});
