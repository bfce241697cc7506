import type { types } from 'mediasoup';
import type { MediaDescription } from 'sdp-transform';
import { transportLines, writeAnswer, type AnswerTransport } from '../media/sdp-session.js';
import type { WhepOffer } from './whep-offer.js';

/** The m-line that sends one consumer's RTP, as mediasoup will send it (its payload types, SSRCs and extension ids). */
function sendingLine(consumer: Pick<types.Consumer, 'id' | 'kind' | 'rtpParameters'>, streamId: string): Omit<MediaDescription, keyof ReturnType<typeof transportLines> | 'mid'> {
  const { codecs, headerExtensions = [], encodings = [], rtcp = {} } = consumer.rtpParameters;
  const encoding = encodings[0];
  const msid = `${streamId} ${consumer.id}`;
  const ssrcs: NonNullable<MediaDescription['ssrcs']> = [];
  const ssrcGroups: NonNullable<MediaDescription['ssrcGroups']> = [];
  if (encoding?.ssrc !== undefined) {
    const all = encoding.rtx?.ssrc !== undefined ? [encoding.ssrc, encoding.rtx.ssrc] : [encoding.ssrc];
    for (const id of all) {
      if (rtcp.cname) ssrcs.push({ id, attribute: 'cname', value: rtcp.cname });
      ssrcs.push({ id, attribute: 'msid', value: msid });
    }
    if (all.length === 2) ssrcGroups.push({ semantics: 'FID', ssrcs: all.join(' ') });
  }
  return {
    type: consumer.kind,
    payloads: codecs.map((c) => c.payloadType).join(' '),
    direction: 'sendonly',
    msid: [{ id: streamId, appdata: consumer.id }],
    ...(rtcp.reducedSize ? { rtcpRsize: 'rtcp-rsize' as const } : {}),
    rtp: codecs.map((c) => ({ payload: c.payloadType, codec: c.mimeType.split('/')[1]!, rate: c.clockRate, ...(c.channels && c.channels > 1 ? { encoding: c.channels } : {}) })),
    fmtp: codecs
      .filter((c) => Object.keys(c.parameters ?? {}).length > 0)
      .map((c) => ({ payload: c.payloadType, config: Object.entries(c.parameters as Record<string, unknown>).map(([k, v]) => `${k}=${String(v)}`).join(';') })),
    rtcpFb: codecs.flatMap((c) => (c.rtcpFeedback ?? []).map((fb) => ({ payload: c.payloadType, type: fb.type, ...(fb.parameter ? { subtype: fb.parameter } : {}) }))),
    ext: headerExtensions.map((h) => ({ value: h.id, uri: h.uri })),
    ssrcs,
    ssrcGroups,
  };
}

/**
 * The SDP answer to a WHEP offer: each offered m-line in order, sending its consumer's RTP, or
 * inactive when the channel has no track of that kind (an audio-only encoder, say). The payload
 * types and extension ids are the router's, which mediasoup sends with; a sendonly answer may
 * declare its own (RFC 3264 §6.1), and players take them from it.
 */
export function writeWhepAnswer(offer: Pick<WhepOffer, 'tracks' | 'answerSetup'>, transport: AnswerTransport, consumers: ReadonlyMap<'audio' | 'video', Pick<types.Consumer, 'id' | 'kind' | 'rtpParameters'>>, streamId: string): string {
  const transportPart = transportLines(transport, offer.answerSetup);
  const media: MediaDescription[] = offer.tracks.map((track) => {
    const consumer = consumers.get(track.kind);
    if (consumer) return { ...transportPart, ...sendingLine(consumer, streamId), mid: track.mid };
    const first = track.media.rtp[0];
    return {
      ...transportPart,
      type: track.kind,
      mid: track.mid,
      payloads: String(first?.payload ?? 0),
      rtp: first ? [first] : [],
      fmtp: [],
      direction: 'inactive',
    };
  });
  return writeAnswer(media);
}
