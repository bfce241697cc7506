import type { types } from 'mediasoup';
import sdpTransform from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { whepOffer, whipOffer } from '../../test/helpers/whip-offer.js';
import { OfferError } from '../http/sdp-exchange.js';
import { planEgress, withMatchingRtx } from '../readers/realtime/payload-types.js';
import { writeWhepAnswer } from './whep-answer.js';
import { parseWhepOffer } from './whep-offer.js';

const opus: types.RtpCodecParameters = { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } };
const h264: types.RtpCodecParameters = { mimeType: 'video/H264', payloadType: 101, clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } };

describe('parseWhepOffer', () => {
  it('reads a player’s receive-only offer into its mids and its capabilities under its own payload types', () => {
    const offer = parseWhepOffer(whepOffer());
    expect(offer.tracks.map((t) => [t.kind, t.mid])).toEqual([['audio', '0'], ['video', '1']]);
    expect(offer.dtls.role).toBe('client');
    expect(offer.answerSetup).toBe('passive');
    const codecs = offer.rtpCapabilities.codecs!.map((c) => [c.mimeType, c.preferredPayloadType]);
    expect(codecs).toEqual([['audio/opus', 111], ['audio/red', 63], ['video/VP9', 96], ['video/rtx', 97], ['video/H264', 102], ['video/rtx', 103]]);
    expect(offer.rtpCapabilities.codecs!.find((c) => c.mimeType === 'video/rtx' && c.preferredPayloadType === 103)!.parameters).toEqual({ apt: 102 });
    expect(offer.rtpCapabilities.headerExtensions!.filter((h) => h.kind === 'video').map((h) => [h.uri, h.preferredId])).toContainEqual(['urn:ietf:params:rtp-hdrext:sdes:mid', 4]);
  });

  it('refuses what a player would not send, with the reason', () => {
    expect(() => parseWhepOffer(whipOffer())).toThrow(/must receive \(recvonly\), not sendonly/);
    expect(() => parseWhepOffer('hello')).toThrow(OfferError);
    expect(() => parseWhepOffer(whepOffer().replace(/a=rtcp-mux\r\n/g, ''))).toThrow(/rtcp-mux/);
    expect(() => parseWhepOffer(whepOffer().replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0'))).toThrow(/BUNDLE/);
    expect(() => parseWhepOffer(whepOffer().replace(/a=fingerprint:.*\r\n/g, ''))).toThrow(/fingerprint/);
    const tooMany = whepOffer().replace('m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103', `m=video 9 UDP/TLS/RTP/SAVPF ${Array.from({ length: 70 }, (_, i) => i + 35).join(' ')}`);
    expect(() => parseWhepOffer(tooMany + Array.from({ length: 70 }, (_, i) => `a=rtpmap:${i + 35} VP8/90000\r\n`).join(''))).toThrow(/at most 64/);
  });
});

describe('planEgress', () => {
  const player = parseWhepOffer(whepOffer()).rtpCapabilities;

  it('needs no egress router when the player’s payload types are the router’s', () => {
    expect(planEgress([{ ...opus, payloadType: 111 }, { ...h264, payloadType: 102 }], player).same).toBe(true);
  });

  it('plans a router with the player’s payload types otherwise; players with the same layout share it', () => {
    const plan = planEgress([opus, h264], player);
    expect(plan.same).toBe(false);
    expect(plan.mediaCodecs.map((c) => [c.mimeType, c.preferredPayloadType])).toEqual([['audio/opus', 111], ['video/H264', 102]]);
    expect(plan.mediaCodecs[1]!.parameters).toEqual(h264.parameters);
    expect(planEgress([opus, h264], parseWhepOffer(whepOffer()).rtpCapabilities).key).toBe(plan.key);
    const other = parseWhepOffer(whepOffer().replace(/102/g, '125')).rtpCapabilities;
    expect(planEgress([opus, h264], other).key).not.toBe(plan.key);
  });

  it('matches H264 by profile and packetization mode (RFC 6184), and refuses a player that decodes none', () => {
    const otherLevel = parseWhepOffer(whepOffer().replace('profile-level-id=42e01f', 'profile-level-id=42c00d')).rtpCapabilities;
    expect(planEgress([h264], otherLevel).mediaCodecs[0]!.preferredPayloadType).toBe(102);
    const highOnly = parseWhepOffer(whepOffer().replace('profile-level-id=42e01f', 'profile-level-id=640c1f')).rtpCapabilities;
    expect(() => planEgress([h264], highOnly)).toThrow(/cannot decode the channel’s video \(video\/H264\)/);
    const mode0 = parseWhepOffer(whepOffer().replace('packetization-mode=1', 'packetization-mode=0')).rtpCapabilities;
    expect(() => planEgress([h264], mode0)).toThrow(/cannot decode/);
  });

  it('keeps the player’s RTX only where the router sends RTX under the same payload type', () => {
    const router = (rtx: number): types.RtpCapabilities => ({ codecs: [{ kind: 'video', mimeType: 'video/H264', clockRate: 90000, preferredPayloadType: 102 }, { kind: 'video', mimeType: 'video/rtx', clockRate: 90000, preferredPayloadType: rtx, parameters: { apt: 102 } }] });
    const rtxOf = (caps: types.RtpCapabilities) => caps.codecs!.filter((c) => c.mimeType === 'video/rtx').map((c) => c.preferredPayloadType);
    expect(rtxOf(withMatchingRtx(player, router(103)))).toEqual([103]);
    expect(rtxOf(withMatchingRtx(player, router(104)))).toEqual([]);
  });
});

describe('writeWhepAnswer', () => {
  const transport = {
    iceParameters: { usernameFragment: 'ufrag', password: 'pwd', iceLite: true },
    iceCandidates: [{ foundation: 'udpcandidate', priority: 1076302079, address: '127.0.0.1', ip: '127.0.0.1', protocol: 'udp' as const, port: 40000, type: 'host' as const }],
    dtlsParameters: { role: 'auto' as const, fingerprints: [{ algorithm: 'sha-256' as const, value: 'AA:BB' }] },
  };
  const consumer = (kind: 'audio' | 'video', codecs: types.RtpCodecParameters[], encodings: types.RtpEncodingParameters[]) => ({ id: `${kind}-consumer`, kind, rtpParameters: { codecs, encodings, headerExtensions: [], rtcp: { cname: 'cname1', reducedSize: true } } });

  it('answers each offered m-line in order, sending with the consumer’s payload types and SSRCs (RTX in an FID group)', () => {
    const offer = parseWhepOffer(whepOffer());
    const consumers = new Map([
      ['audio', consumer('audio', [{ ...opus, payloadType: 111 }], [{ ssrc: 11 }])],
      ['video', consumer('video', [{ ...h264, payloadType: 102 }, { mimeType: 'video/rtx', payloadType: 103, clockRate: 90000, parameters: { apt: 102 } }], [{ ssrc: 22, rtx: { ssrc: 33 } }])],
    ] as const);
    const answer = sdpTransform.parse(writeWhepAnswer(offer, transport, consumers, 'channel1'));
    expect(answer.icelite).toBe('ice-lite');
    expect(answer.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
    expect(answer.media.map((m) => [m.type, String(m.mid), m.direction, m.setup])).toEqual([['audio', '0', 'sendonly', 'passive'], ['video', '1', 'sendonly', 'passive']]);
    expect(answer.media[0]!.rtp).toEqual([{ payload: 111, codec: 'opus', rate: 48000, encoding: 2 }]);
    expect(answer.media[1]!.fmtp.find((f) => f.payload === 103)?.config).toBe('apt=102');
    expect(answer.media[1]!.ssrcGroups).toEqual([{ semantics: 'FID', ssrcs: '22 33' }]);
    expect(answer.media[1]!.ssrcs?.filter((s) => s.attribute === 'cname').map((s) => s.id)).toEqual([22, 33]);
    expect(answer.media[1]!.candidates?.[0]).toMatchObject({ ip: '127.0.0.1', port: 40000, type: 'host' });
  });

  it('answers an m-line the channel has no track for as inactive (an encoder without audio)', () => {
    const offer = parseWhepOffer(whepOffer());
    const answer = sdpTransform.parse(writeWhepAnswer(offer, transport, new Map([['video', consumer('video', [{ ...h264, payloadType: 102 }], [{ ssrc: 22 }])]] as const), 'channel1'));
    expect(answer.media.map((m) => [m.type, m.direction])).toEqual([['audio', 'inactive'], ['video', 'sendonly']]);
  });
});
