import { isSameProfile } from 'h264-profile-level-id';
import type { types } from 'mediasoup';
import sdpTransform, { type MediaAttributes, type MediaDescription } from 'sdp-transform';
import { OfferError } from '../http/sdp-exchange.js';
import { checkMediaLine, parseOffer, remoteDtls } from '../media/sdp-session.js';

export { OfferError };

/** One m-line of the offer as a mediasoup producer needs it, plus what the answer must repeat. */
export interface OfferedTrack {
  kind: 'audio' | 'video';
  mid: string;
  rtpParameters: types.RtpParameters;
  /** The simulcast rids the answer must receive (empty without simulcast). */
  rids: string[];
  rtcpRsize: boolean;
  /** The m-line as offered, to answer with the same codec lines for the chosen payload types. */
  media: MediaDescription;
}

export interface WhipOffer {
  tracks: OfferedTrack[];
  /** The remote DTLS parameters for `transport.connect` (role is the client's). */
  dtls: types.DtlsParameters;
  /** The answer's own `a=setup`. */
  answerSetup: 'passive' | 'active';
}

/** A real encoder sends at most three simulcast layers; anything far beyond is hostile. */
const MAX_ENCODINGS = 4;

/**
 * Maps a WHIP offer (RFC 9725: one audio and/or one video m-line, BUNDLEd, rtcp-mux) to the RTP
 * parameters mediasoup producers take, choosing for each m-line the client's payload type of a
 * codec this router carries (Opus; H264 packetization-mode 1 of the router's profile, else VP8),
 * with its RTX, RTCP feedback and the header extensions the router understands. Throws OfferError
 * with a reason a person can act on.
 */
export function parseWhipOffer(sdp: string, router: types.RtpCapabilities): WhipOffer {
  const session = parseOffer(sdp);
  const tracks: OfferedTrack[] = [];
  for (const media of session.media) {
    if (media.type !== 'audio' && media.type !== 'video') throw new OfferError(`m=${media.type} is not supported; only audio and video are ingested`);
    if (tracks.some((t) => t.kind === media.type)) throw new OfferError(`the offer has more than one ${media.type} m-line; a channel takes one of each`);
    const mid = checkMediaLine(session, media, 'send');
    tracks.push(offeredTrack(media.type, mid, media, router));
  }
  return { tracks, ...remoteDtls(session) };
}

type RtpLine = MediaAttributes['rtp'][number];

function fmtpOf(media: MediaDescription, payload: number): Record<string, string | number> {
  const line = media.fmtp.find((f) => f.payload === payload);
  if (!line) return {};
  const params: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(sdpTransform.parseParams(line.config))) if (value !== undefined) params[key] = value;
  return params;
}

/** The client's payload type of the codec to use, with its parameters, or null. */
function chooseCodec(kind: 'audio' | 'video', media: MediaDescription, router: types.RtpCapabilities): { line: RtpLine; capability: types.RtpCodecCapability; parameters: Record<string, string | number> } | null {
  const capabilities = (router.codecs ?? []).filter((c) => c.kind === kind && !/\/rtx$/i.test(c.mimeType));
  // The router's order is the preference (H264 first: FFmpeg copies it into HLS); the client's
  // order decides among its own payload types for the same codec.
  for (const capability of capabilities) {
    const name = capability.mimeType.split('/')[1]!.toLowerCase();
    for (const line of media.rtp) {
      if (line.codec.toLowerCase() !== name || line.rate !== capability.clockRate) continue;
      const parameters = fmtpOf(media, line.payload);
      if (name === 'opus' && String(line.encoding ?? '1') !== '2') continue;
      if (name === 'h264') {
        if (Number(parameters['packetization-mode'] ?? 0) !== Number(capability.parameters?.['packetization-mode'] ?? 0)) continue;
        if (!isSameProfile(parameters, capability.parameters)) continue;
      }
      return { line, capability, parameters };
    }
  }
  return null;
}

function offeredTrack(kind: 'audio' | 'video', mid: string, media: MediaDescription, router: types.RtpCapabilities): OfferedTrack {
  const chosen = chooseCodec(kind, media, router);
  if (!chosen) {
    const offered = [...new Set(media.rtp.map((r) => r.codec))].join(', ') || 'none';
    const wanted = kind === 'audio' ? 'Opus (48000/2)' : 'H264 (packetization-mode=1, Constrained Baseline) or VP8';
    throw new OfferError(`no usable ${kind} codec in the offer (offered: ${offered}); this server takes ${wanted}`);
  }
  const { line, capability, parameters } = chosen;
  const feedbackFor = (payload: number): types.RtcpFeedback[] => {
    const supported = capability.rtcpFeedback ?? [];
    return (media.rtcpFb ?? [])
      .filter((fb) => Number(fb.payload) === payload || fb.payload === '*')
      .map((fb) => ({ type: fb.type, parameter: fb.subtype ?? '' }))
      .filter((fb) => supported.some((s) => s.type === fb.type && (s.parameter ?? '') === fb.parameter));
  };
  const codecs: types.RtpCodecParameters[] = [
    {
      mimeType: capability.mimeType,
      payloadType: line.payload,
      clockRate: line.rate ?? capability.clockRate,
      ...(kind === 'audio' ? { channels: 2 } : {}),
      parameters,
      rtcpFeedback: feedbackFor(line.payload),
    },
  ];
  const rtx = media.rtp.find((r) => r.codec.toLowerCase() === 'rtx' && Number(fmtpOf(media, r.payload).apt) === line.payload);
  if (rtx && kind === 'video') {
    codecs.push({ mimeType: 'video/rtx', payloadType: rtx.payload, clockRate: rtx.rate ?? capability.clockRate, parameters: { apt: line.payload }, rtcpFeedback: [] });
  }

  const headerExtensions: types.RtpHeaderExtensionParameters[] = [];
  for (const ext of media.ext ?? []) {
    const known = (router.headerExtensions ?? []).find((h) => h.kind === kind && h.uri === ext.uri && h.direction !== 'sendonly');
    if (known && Number.isInteger(ext.value) && ext.value >= 1 && ext.value <= 255) headerExtensions.push({ uri: known.uri, id: ext.value, encrypt: false, parameters: {} });
  }

  const rids = simulcastRids(media);
  const encodings = rids.length > 0 ? rids.map((rid) => ({ rid })) : ssrcEncodings(kind, media, !!rtx);
  if (encodings.length > MAX_ENCODINGS) throw new OfferError(`the ${kind} m-line has ${encodings.length} encodings; at most ${MAX_ENCODINGS}`);
  if (rids.length > 0 && !headerExtensions.some((h) => h.uri === 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id')) {
    throw new OfferError(`the ${kind} m-line uses simulcast rids without the rtp-stream-id header extension`);
  }
  const cname = media.ssrcs?.find((s) => s.attribute === 'cname')?.value;
  return {
    kind,
    mid,
    rids,
    rtcpRsize: !!media.rtcpRsize,
    media,
    rtpParameters: {
      mid,
      codecs,
      headerExtensions,
      encodings,
      rtcp: { ...(cname ? { cname } : {}), reducedSize: !!media.rtcpRsize },
    },
  };
}

/**
 * The rids the client sends, in its `a=simulcast:send` order (RFC 8853; alternatives after a
 * comma are ignored, as are paused `~` streams). mediasoup treats a producer's encodings as
 * spatial layers from low to high, so with `max-width`/`max-height` restrictions they are sorted
 * by size; without them the client's order is kept.
 */
function simulcastRids(media: MediaDescription): string[] {
  const declared = (media.rids ?? []).filter((r) => r.direction === 'send');
  if (declared.length === 0) return [];
  const list = media.simulcast?.dir1 === 'send' ? media.simulcast.list1 : media.simulcast?.dir2 === 'send' ? media.simulcast.list2 : undefined;
  if (!list) throw new OfferError(`the ${media.type} m-line declares rids but no a=simulcast:send`);
  const ids = list.split(';').map((alternatives) => alternatives.split(',')[0]!.trim()).filter((id) => id && !id.startsWith('~'));
  for (const id of ids) {
    if (!/^[A-Za-z0-9_-]{1,16}$/.test(id)) throw new OfferError(`invalid simulcast rid ${JSON.stringify(id)}`);
    if (!declared.some((r) => String(r.id) === id)) throw new OfferError(`simulcast rid ${id} has no a=rid line`);
  }
  const size = (id: string): number => {
    const params = sdpTransform.parseParams(String(declared.find((r) => String(r.id) === id)?.params ?? ''));
    return Number(params['max-width'] ?? 0) * Number(params['max-height'] ?? 1);
  };
  return ids.every((id) => size(id) > 0) ? [...ids].sort((a, b) => size(a) - size(b)) : ids;
}

/** Encodings from `a=ssrc` lines: a `SIM` group's SSRCs (simulcast without rids) or the one media SSRC, each with its `FID` RTX SSRC. */
function ssrcEncodings(kind: string, media: MediaDescription, withRtx: boolean): types.RtpEncodingParameters[] {
  const ssrcs = [...new Set((media.ssrcs ?? []).map((s) => Number(s.id)))];
  if (ssrcs.length === 0) throw new OfferError(`the ${kind} m-line declares neither SSRCs (a=ssrc) nor simulcast rids`);
  if (!ssrcs.every((s) => Number.isInteger(s) && s > 0 && s <= 0xffffffff)) throw new OfferError(`the ${kind} m-line has an invalid SSRC`);
  const groups = (media.ssrcGroups ?? []).map((g) => ({ semantics: g.semantics, ssrcs: g.ssrcs.split(' ').map(Number) }));
  const rtxOf = new Map(groups.filter((g) => g.semantics === 'FID' && g.ssrcs.length === 2).map((g) => [g.ssrcs[0]!, g.ssrcs[1]!]));
  const repairs = new Set(rtxOf.values());
  const sim = groups.find((g) => g.semantics === 'SIM');
  const primaries = sim ? sim.ssrcs : ssrcs.filter((s) => !repairs.has(s)).slice(0, 1);
  return primaries.map((ssrc) => {
    const rtx = rtxOf.get(ssrc);
    return rtx !== undefined && withRtx ? { ssrc, rtx: { ssrc: rtx } } : { ssrc };
  });
}
