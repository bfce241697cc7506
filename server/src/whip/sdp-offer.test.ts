import type { types } from 'mediasoup';
import { describe, expect, it } from 'vitest';
import { whipOffer } from '../../test/helpers/whip-offer.js';
import { routerMediaCodecs } from '../media/codecs.js';
import { OfferError, parseWhipOffer } from './sdp-offer.js';

/** What a channel router built from routerMediaCodecs reports (the parts the mapping reads). */
const router: types.RtpCapabilities = {
  codecs: routerMediaCodecs.map((c) => ({ ...c, rtcpFeedback: c.kind === 'video' ? [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'transport-cc' }] : [{ type: 'transport-cc' }] })),
  headerExtensions: [
    { kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1, direction: 'sendrecv' },
    { kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1, direction: 'sendrecv' },
    { kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', preferredId: 2, direction: 'recvonly' },
    { kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', preferredId: 10, direction: 'sendrecv' },
  ],
};

const video = (sdp: string) => parseWhipOffer(sdp, router).tracks.find((t) => t.kind === 'video')!;

describe('parseWhipOffer', () => {
  it('maps a Chromium/OBS-like offer: the client’s payload types, RTX, known extensions only, the client as DTLS client', () => {
    const offer = parseWhipOffer(whipOffer(), router);
    expect(offer.answerSetup).toBe('passive');
    expect(offer.dtls.role).toBe('client');
    const [audio, v] = offer.tracks;
    expect(audio!.rtpParameters.codecs).toEqual([expect.objectContaining({ mimeType: 'audio/opus', payloadType: 111, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } })]);
    expect(audio!.rtpParameters.headerExtensions?.map((h) => h.uri)).toEqual(['urn:ietf:params:rtp-hdrext:ssrc-audio-level', 'urn:ietf:params:rtp-hdrext:sdes:mid']);
    expect(v!.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType])).toEqual([['video/H264', 102], ['video/rtx', 103]]);
    // goog-remb is not among the router's feedback: left out rather than promised.
    expect(v!.rtpParameters.codecs[0]!.rtcpFeedback?.map((f) => f.type)).not.toContain('goog-remb');
    expect(v!.rtpParameters.encodings).toEqual([{ ssrc: 2222, rtx: { ssrc: 3333 } }]);
    expect(v!.rtpParameters.rtcp).toEqual({ cname: 'whiptest', reducedSize: true });
  });

  it('falls back to VP8 when the H264 offered is of another profile or packetization mode, and refuses when nothing fits', () => {
    const high = whipOffer().replace('profile-level-id=42e01f', 'profile-level-id=640c1f');
    expect(() => video(high)).toThrow(/no usable video codec/);
    const withVp8 = high.replace('a=rtpmap:96 VP9/90000', 'a=rtpmap:96 VP8/90000');
    expect(video(withVp8).rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType])).toEqual([['video/VP8', 96], ['video/rtx', 97]]);
    const mode0 = whipOffer().replace('packetization-mode=1', 'packetization-mode=0');
    expect(() => video(mode0)).toThrow(OfferError);
  });

  it('takes a SIM group as encodings, each with its FID repair stream', () => {
    const sdp = whipOffer().replace(
      'a=ssrc-group:FID 2222 3333\r\na=ssrc:2222 cname:whiptest\r\na=ssrc:3333 cname:whiptest\r\n',
      ['a=ssrc-group:SIM 10 20', 'a=ssrc-group:FID 10 11', 'a=ssrc-group:FID 20 21', ...[10, 11, 20, 21].map((s) => `a=ssrc:${s} cname:c`)].join('\r\n') + '\r\n',
    );
    expect(video(sdp).rtpParameters.encodings).toEqual([{ ssrc: 10, rtx: { ssrc: 11 } }, { ssrc: 20, rtx: { ssrc: 21 } }]);
  });

  it('orders rid encodings low to high by their size restrictions, ignores paused ones, and keeps the client’s order without sizes', () => {
    expect(video(whipOffer({ simulcast: true })).rtpParameters.encodings).toEqual([{ rid: 'q' }, { rid: 'h' }, { rid: 'f' }]);
    const paused = whipOffer({ simulcast: true }).replace('a=simulcast:send f;h;q', 'a=simulcast:send f;~h;q');
    expect(video(paused).rids).toEqual(['q', 'f']);
    const unsized = whipOffer({ simulcast: true }).replace(/ max-width=\d+;max-height=\d+/g, '');
    expect(video(unsized).rids).toEqual(['f', 'h', 'q']);
  });

  it('answers active to a passive client (the server is then the DTLS client)', () => {
    const offer = parseWhipOffer(whipOffer().replace(/a=setup:actpass/g, 'a=setup:passive'), router);
    expect([offer.dtls.role, offer.answerSetup]).toEqual(['server', 'active']);
  });

  it('refuses hostile shapes with a reason', () => {
    expect(() => parseWhipOffer(whipOffer().replace(/a=ssrc:2222 cname/, 'a=ssrc:99999999999 cname'), router)).toThrow(/invalid SSRC/);
    expect(() => parseWhipOffer(whipOffer().replace(/a=fingerprint:sha-256 [^\r]*/g, 'a=fingerprint:md5 AA:BB'), router)).toThrow(/algorithm/);
    expect(() => parseWhipOffer(whipOffer().replace(/a=rtcp-mux\r\n/g, ''), router)).toThrow(/rtcp-mux/);
    expect(() => parseWhipOffer(whipOffer({ simulcast: true }).replace('a=simulcast:send f;h;q', 'a=simulcast:send f;h;q;abcdefghijklmnopqrstuvwxyz'), router)).toThrow(/invalid simulcast rid/);
    expect(() => parseWhipOffer(whipOffer({ simulcast: true }).replace('a=simulcast:send f;h;q', 'a=simulcast:send f;h;<script>'), router)).toThrow(OfferError);
  });
});
