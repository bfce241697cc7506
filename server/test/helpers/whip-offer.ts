/**
 * A WHIP offer shaped like the ones Chromium and OBS send (sendonly Opus + H264 with RTX,
 * BUNDLE, rtcp-mux, actpass): what the integration tests POST. Options make the variants the
 * server must accept (simulcast rids) or refuse.
 */
export function whipOffer(o: { simulcast?: boolean; videoCodec?: string; audio?: boolean } = {}): string {
  const video = o.videoCodec ?? 'H264/90000';
  const lines = [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    `a=group:BUNDLE ${o.audio === false ? '' : '0 '}1`,
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS stream',
  ];
  const common = [
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:abcd',
    'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:EA:8C:D3:B6:5C:09:5E:D6:BC',
    'a=setup:actpass',
  ];
  if (o.audio !== false) {
    lines.push(
      'm=audio 9 UDP/TLS/RTP/SAVPF 111 63',
      ...common,
      'a=mid:0',
      'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
      'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
      'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
      'a=sendonly',
      'a=msid:stream audio0',
      'a=rtcp-mux',
      'a=rtcp-rsize',
      'a=rtpmap:111 opus/48000/2',
      'a=rtcp-fb:111 transport-cc',
      'a=fmtp:111 minptime=10;useinbandfec=1',
      'a=rtpmap:63 red/48000/2',
      'a=fmtp:63 111/111',
      'a=ssrc:1111 cname:whiptest',
      'a=ssrc:1111 msid:stream audio0',
    );
  }
  const [name] = video.split('/');
  lines.push(
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103',
    ...common,
    'a=mid:1',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
    'a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
    'a=sendonly',
    'a=msid:stream video0',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtpmap:96 VP9/90000',
    'a=rtcp-fb:96 nack',
    'a=rtpmap:97 rtx/90000',
    'a=fmtp:97 apt=96',
    `a=rtpmap:102 ${video}`,
    'a=rtcp-fb:102 goog-remb',
    'a=rtcp-fb:102 transport-cc',
    'a=rtcp-fb:102 ccm fir',
    'a=rtcp-fb:102 nack',
    'a=rtcp-fb:102 nack pli',
    ...(name === 'H264' ? ['a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f'] : []),
    'a=rtpmap:103 rtx/90000',
    'a=fmtp:103 apt=102',
  );
  if (o.simulcast) {
    lines.push('a=rid:q send max-width=320;max-height=180', 'a=rid:h send max-width=640;max-height=360', 'a=rid:f send max-width=1280;max-height=720', 'a=simulcast:send f;h;q');
  } else {
    lines.push('a=ssrc-group:FID 2222 3333', 'a=ssrc:2222 cname:whiptest', 'a=ssrc:3333 cname:whiptest');
  }
  return lines.join('\r\n') + '\r\n';
}

/** A WHEP offer as a player makes it: the same m-lines, receive-only, without SSRCs of its own. */
export function whepOffer(o: { audio?: boolean } = {}): string {
  return whipOffer(o)
    .split('\r\n')
    .filter((line) => !line.startsWith('a=ssrc'))
    .join('\r\n')
    .replace(/a=sendonly/g, 'a=recvonly');
}
