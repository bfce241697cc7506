import type { types } from 'mediasoup';
import sdpTransform, { type MediaDescription } from 'sdp-transform';
import { OfferError } from '../http/sdp-exchange.js';
import { checkMediaLine, parseOffer, remoteDtls } from '../media/sdp-session.js';

/** One m-line the player wants to receive on. */
export interface WantedTrack {
  kind: 'audio' | 'video';
  mid: string;
  /** The m-line as offered (answered inactive when the channel has no such track). */
  media: MediaDescription;
}

export interface WhepOffer {
  tracks: WantedTrack[];
  /** What the player can decode, for mediasoup's `consume` (its payload types and extension ids). */
  rtpCapabilities: types.RtpCapabilities;
  dtls: types.DtlsParameters;
  answerSetup: 'passive' | 'active';
}

/** A real player offers a few dozen codecs per m-line; far more is hostile. */
const MAX_CODECS = 64;

const codecParameters = (media: MediaDescription, payload: number): Record<string, string | number> => {
  const line = media.fmtp.find((f) => f.payload === payload);
  const params: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(sdpTransform.parseParams(line?.config ?? ''))) if (value !== undefined) params[key] = value;
  return params;
};

/** The codecs and header extensions of one m-line, as mediasoup RTP capabilities. */
function capabilitiesOf(kind: 'audio' | 'video', media: MediaDescription): Required<Pick<types.RtpCapabilities, 'codecs' | 'headerExtensions'>> {
  if (media.rtp.length > MAX_CODECS) throw new OfferError(`the ${kind} m-line offers ${media.rtp.length} codecs; at most ${MAX_CODECS}`);
  const codecs: types.RtpCodecCapability[] = [];
  for (const rtp of media.rtp) {
    if (!Number.isInteger(rtp.payload) || rtp.payload < 0 || rtp.payload > 127) throw new OfferError(`invalid payload type ${rtp.payload} in the ${kind} m-line`);
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(rtp.codec) || !rtp.rate) continue;
    const channels = kind === 'audio' ? Number(rtp.encoding ?? 1) : undefined;
    codecs.push({
      kind,
      mimeType: `${kind}/${rtp.codec}`,
      preferredPayloadType: rtp.payload,
      clockRate: rtp.rate,
      ...(channels ? { channels } : {}),
      parameters: codecParameters(media, rtp.payload),
      rtcpFeedback: (media.rtcpFb ?? [])
        .filter((fb) => Number(fb.payload) === rtp.payload || fb.payload === '*')
        .map((fb) => ({ type: fb.type, parameter: fb.subtype ?? '' })),
    });
  }
  const headerExtensions: types.RtpHeaderExtension[] = (media.ext ?? [])
    .filter((ext) => Number.isInteger(ext.value) && ext.value >= 1 && ext.value <= 14)
    .map((ext) => ({ kind, uri: ext.uri as types.RtpHeaderExtensionUri, preferredId: ext.value, preferredEncrypt: false, direction: 'sendrecv' }));
  return { codecs, headerExtensions };
}

/**
 * Reads a WHEP offer (draft-ietf-wish-whep: the player offers, receive-only, one audio and/or one
 * video m-line, BUNDLEd, rtcp-mux) into what the player can decode, expressed as mediasoup RTP
 * capabilities, so that the router picks the codec of each consumer exactly as it does for our
 * own player. Throws OfferError with a reason a person can act on.
 */
export function parseWhepOffer(sdp: string): WhepOffer {
  const session = parseOffer(sdp);
  const tracks: WantedTrack[] = [];
  const rtpCapabilities: Required<Pick<types.RtpCapabilities, 'codecs' | 'headerExtensions'>> = { codecs: [], headerExtensions: [] };
  for (const media of session.media) {
    if (media.type !== 'audio' && media.type !== 'video') throw new OfferError(`m=${media.type} is not supported; a WHEP player receives audio and video`);
    if (tracks.some((t) => t.kind === media.type)) throw new OfferError(`the offer has more than one ${media.type} m-line; a channel has one of each`);
    const mid = checkMediaLine(session, media, 'receive');
    tracks.push({ kind: media.type, mid, media });
    const own = capabilitiesOf(media.type, media);
    rtpCapabilities.codecs.push(...own.codecs);
    rtpCapabilities.headerExtensions.push(...own.headerExtensions);
  }
  return { tracks, rtpCapabilities, ...remoteDtls(session) };
}
