import type { types } from 'mediasoup';
import sdpTransform, { type MediaDescription, type SessionDescription } from 'sdp-transform';
import { OfferError } from '../http/sdp-exchange.js';

/**
 * What every SDP offer to this server (WHIP ingest, WHEP playback) must be, and what every answer
 * carries: one BUNDLEd, rtcp-mux, UDP/TLS/RTP/SAVPF transport; mediasoup is ICE-lite, so the
 * answer holds the transport's ICE credentials and all its candidates at once, and its DTLS
 * fingerprint.
 */

const FINGERPRINT_ALGORITHMS = ['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'] as const;
type FingerprintAlgorithm = (typeof FINGERPRINT_ALGORITHMS)[number];
const isFingerprintAlgorithm = (value: string): value is FingerprintAlgorithm => (FINGERPRINT_ALGORITHMS as readonly string[]).includes(value);

/** A real offer has two m-lines; anything far beyond is hostile. */
const MAX_MEDIA = 8;

/** Parses an offer and checks its overall shape; throws OfferError with a reason a person can act on. */
export function parseOffer(sdp: string): SessionDescription {
  let session: SessionDescription;
  try {
    session = sdpTransform.parse(sdp);
  } catch (error) {
    throw new OfferError(`the SDP offer cannot be parsed: ${error instanceof Error ? error.message : String(error)}`);
  }
  // sdp-transform is lenient: it parses anything line by line, so the shape is checked here.
  if (session.version !== 0 || !Array.isArray(session.media) || session.media.length === 0) {
    throw new OfferError('the body is not an SDP offer with media (v=0 and at least one m= line expected)');
  }
  if (session.media.length > MAX_MEDIA) throw new OfferError(`the offer has ${session.media.length} m-lines; at most one audio and one video are accepted`);
  return session;
}

/** Checks one audio/video m-line's direction (the client must `send` or `receive`) and transport attributes; returns its mid. */
export function checkMediaLine(session: SessionDescription, media: MediaDescription, client: 'send' | 'receive'): string {
  const bundle = session.groups?.find((g) => g.type === 'BUNDLE');
  const bundled = new Set(String(bundle?.mids ?? '').split(' ').filter(Boolean));
  const wanted = client === 'send' ? 'sendonly' : 'recvonly';
  if (media.direction !== wanted && media.direction !== 'sendrecv') {
    throw new OfferError(`the ${media.type} m-line must ${client} (${wanted}), not ${media.direction ?? 'nothing'}`);
  }
  if (!/UDP\/TLS\/RTP\/SAVPF/i.test(media.protocol)) throw new OfferError(`the ${media.type} m-line's protocol ${media.protocol} is not UDP/TLS/RTP/SAVPF`);
  const mid = media.mid === undefined ? '' : String(media.mid);
  if (!mid) throw new OfferError(`the ${media.type} m-line has no a=mid`);
  if (!/^[A-Za-z0-9_-]{1,16}$/.test(mid)) throw new OfferError(`invalid a=mid ${JSON.stringify(mid)}`);
  if (!bundled.has(mid)) throw new OfferError(`the ${media.type} m-line (mid ${mid}) is not in a=group:BUNDLE; this server takes one bundled transport`);
  if (!media.rtcpMux) throw new OfferError(`the ${media.type} m-line lacks a=rtcp-mux`);
  return mid;
}

/** The remote DTLS parameters for `transport.connect`, and the answer's own `a=setup`. */
export function remoteDtls(session: SessionDescription): { dtls: types.DtlsParameters; answerSetup: 'passive' | 'active' } {
  const first = session.media[0];
  const fingerprint = first?.fingerprint ?? session.fingerprint;
  if (!fingerprint) throw new OfferError('the offer has no a=fingerprint (DTLS)');
  const algorithm = fingerprint.type.toLowerCase();
  if (!isFingerprintAlgorithm(algorithm)) throw new OfferError(`unsupported DTLS fingerprint algorithm ${fingerprint.type}`);
  if (!/^([0-9A-Fa-f]{2}:)+[0-9A-Fa-f]{2}$/.test(fingerprint.hash)) throw new OfferError('the DTLS fingerprint is not hex bytes separated by colons');
  const setup = first?.setup ?? session.setup ?? 'actpass';
  // actpass/active: the client is the DTLS client and the answer is passive (what WHIP/WHEP clients do).
  if (setup === 'actpass' || setup === 'active') {
    return { dtls: { role: 'client', fingerprints: [{ algorithm, value: fingerprint.hash }] }, answerSetup: 'passive' };
  }
  if (setup === 'passive') return { dtls: { role: 'server', fingerprints: [{ algorithm, value: fingerprint.hash }] }, answerSetup: 'active' };
  throw new OfferError(`unsupported a=setup:${setup}`);
}

export type AnswerTransport = Pick<types.WebRtcTransport, 'iceParameters' | 'iceCandidates' | 'dtlsParameters'>;

/** The transport's part of every answered m-line: address, ICE, DTLS. */
export type TransportLines = Pick<MediaDescription, 'port' | 'protocol' | 'connection' | 'rtcpMux' | 'iceUfrag' | 'icePwd' | 'fingerprint' | 'setup' | 'candidates' | 'endOfCandidates'>;

export function transportLines(transport: AnswerTransport, setup: 'passive' | 'active'): TransportLines {
  const fingerprint = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? transport.dtlsParameters.fingerprints[0];
  if (!fingerprint) throw new Error('the transport has no DTLS fingerprint');
  const first = transport.iceCandidates.find((c) => c.protocol === 'udp') ?? transport.iceCandidates[0];
  return {
    port: first?.port ?? 9,
    protocol: 'UDP/TLS/RTP/SAVPF',
    connection: { version: first?.address.includes(':') ? 6 : 4, ip: first?.address ?? '0.0.0.0' },
    rtcpMux: 'rtcp-mux',
    iceUfrag: transport.iceParameters.usernameFragment,
    icePwd: transport.iceParameters.password,
    fingerprint: { type: fingerprint.algorithm, hash: fingerprint.value },
    setup,
    candidates: transport.iceCandidates.map((c, i) => ({
      foundation: c.foundation || String(i),
      component: 1,
      transport: c.protocol,
      priority: c.priority,
      ip: c.address,
      port: c.port,
      type: c.type,
      ...(c.protocol === 'tcp' ? { tcptype: c.tcpType ?? 'passive' } : {}),
    })),
    endOfCandidates: 'end-of-candidates',
  };
}

/** An ICE-lite answer bundling `media` in order. */
export function writeAnswer(media: MediaDescription[]): string {
  return sdpTransform.write({
    version: 0,
    // The session id must be numeric (RFC 4566): derived from time, not from any secret.
    origin: { username: '-', sessionId: Date.now(), sessionVersion: 1, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    groups: [{ type: 'BUNDLE', mids: media.map((m) => String(m.mid)).join(' ') }],
    msidSemantic: { semantic: 'WMS', token: '*' },
    media,
  });
}
