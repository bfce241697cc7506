import type { MediaDescription } from 'sdp-transform';
import { transportLines, writeAnswer, type AnswerTransport } from '../media/sdp-session.js';
import type { WhipOffer } from './sdp-offer.js';

/**
 * The SDP answer to a WHIP offer: the offer's mids in the offer's order, and for each m-line only
 * the chosen codec (and its RTX) under the client's payload types, receive-only.
 */
export function writeWhipAnswer(offer: WhipOffer, transport: AnswerTransport): string {
  const transportPart = transportLines(transport, offer.answerSetup);
  const media: MediaDescription[] = offer.tracks.map((track) => {
    const payloads = track.rtpParameters.codecs.map((c) => c.payloadType);
    const keep = new Set(payloads);
    return {
      ...transportPart,
      type: track.kind,
      payloads: payloads.join(' '),
      mid: track.mid,
      direction: 'recvonly',
      ...(track.rtcpRsize ? { rtcpRsize: 'rtcp-rsize' as const } : {}),
      rtp: track.media.rtp.filter((r) => keep.has(r.payload)),
      fmtp: track.media.fmtp.filter((f) => keep.has(f.payload)),
      rtcpFb: track.rtpParameters.codecs.flatMap((c) =>
        (c.rtcpFeedback ?? []).map((fb) => ({ payload: c.payloadType, type: fb.type, ...(fb.parameter ? { subtype: fb.parameter } : {}) })),
      ),
      ext: (track.rtpParameters.headerExtensions ?? []).map((h) => ({ value: h.id, uri: h.uri })),
      ...(track.rids.length > 0
        ? { rids: track.rids.map((id) => ({ id, direction: 'recv' })), simulcast: { dir1: 'recv' as const, list1: track.rids.join(';') } }
        : {}),
    };
  });
  return writeAnswer(media);
}
