import type { types } from 'mediasoup';
import sdpTransform, { type MediaDescription } from 'sdp-transform';
import type { WhipOffer } from './sdp-offer.js';

/**
 * The SDP answer to a WHIP offer: mediasoup is ICE-lite, so the answer carries the transport's
 * ICE credentials and all its candidates at once (no trickle), its DTLS fingerprint, the offer's
 * mids in the offer's order, and for each m-line only the chosen codec (and its RTX) under the
 * client's payload types, receive-only.
 */
export function writeWhipAnswer(offer: WhipOffer, transport: Pick<types.WebRtcTransport, 'iceParameters' | 'iceCandidates' | 'dtlsParameters'>): string {
  const fingerprint = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? transport.dtlsParameters.fingerprints[0];
  if (!fingerprint) throw new Error('the transport has no DTLS fingerprint');
  const candidates = transport.iceCandidates.map((c, i) => ({
    foundation: c.foundation || String(i),
    component: 1,
    transport: c.protocol,
    priority: c.priority,
    ip: c.address,
    port: c.port,
    type: c.type,
    ...(c.protocol === 'tcp' ? { tcptype: c.tcpType ?? 'passive' } : {}),
  }));
  const first = transport.iceCandidates.find((c) => c.protocol === 'udp') ?? transport.iceCandidates[0];
  const ipVer = first?.address.includes(':') ? 6 : 4;
  const media: MediaDescription[] = offer.tracks.map((track) => {
    const payloads = track.rtpParameters.codecs.map((c) => c.payloadType);
    const keep = new Set(payloads);
    return {
      type: track.kind,
      port: first?.port ?? 9,
      protocol: 'UDP/TLS/RTP/SAVPF',
      payloads: payloads.join(' '),
      connection: { version: ipVer, ip: first?.address ?? '0.0.0.0' },
      mid: track.mid,
      direction: 'recvonly',
      rtcpMux: 'rtcp-mux',
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
      iceUfrag: transport.iceParameters.usernameFragment,
      icePwd: transport.iceParameters.password,
      fingerprint: { type: fingerprint.algorithm, hash: fingerprint.value },
      setup: offer.answerSetup,
      candidates,
      endOfCandidates: 'end-of-candidates',
    };
  });
  return sdpTransform.write({
    version: 0,
    // The session id must be numeric (RFC 4566): derived from time, not from the secret session id.
    origin: { username: '-', sessionId: Date.now(), sessionVersion: 1, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    groups: [{ type: 'BUNDLE', mids: offer.tracks.map((t) => t.mid).join(' ') }],
    msidSemantic: { semantic: 'WMS', token: '*' },
    media,
  });
}
