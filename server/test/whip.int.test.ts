import sdpTransform from 'sdp-transform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel } from '../src/channel/channel.js';
import { createLogger } from '../src/logger.js';
import { logCapture } from './helpers/output.js';
import { eventually, udpSocketCount } from './helpers/processes.js';
import type { TestServer } from './helpers/server.js';
import { startTestApp } from './helpers/test-app.js';
import { whipOffer } from './helpers/whip-offer.js';

/** The WHIP HTTP surface (RFC 9725) against a real server; the media path is proven in e2e/whip.spec.ts. */
describe('WHIP ingest: the HTTP surface', () => {
  let app: TestServer;
  const log = logCapture();
  const keys: string[] = [];

  beforeAll(async () => {
    // A short source timeout: a session whose ICE/DTLS never completes must be released quickly.
    app = await startTestApp({ SOURCE_MEDIA_TIMEOUT_MS: '2000', MAX_CHANNELS: '50' }, { logger: createLogger('debug', log) });
  });
  afterAll(async () => {
    await app?.stop();
    // Stream keys are secrets: never in the log, whatever happened above.
    const text = JSON.stringify(log.records());
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(text).not.toContain(key);
  });

  async function newChannel(): Promise<{ channel: Channel; streamKey: string; publishToken: string; endpoint: string }> {
    const { channel, streamKey, publishToken } = await app.registry.create();
    keys.push(streamKey);
    return { channel, streamKey, publishToken, endpoint: `${app.url}/whip/${channel.id}` };
  }

  const post = (endpoint: string, body: string, headers: Record<string, string>) => fetch(endpoint, { method: 'POST', body, headers });
  const sdpHeaders = (key: string) => ({ 'Content-Type': 'application/sdp', Authorization: `Bearer ${key}` });

  it('publishes: 201 with an ICE-lite recvonly answer for the same mids and the client’s payload types, a Location, then DELETE ends the channel', async () => {
    const { channel, streamKey, publishToken, endpoint } = await newChannel();
    const res = await post(endpoint, whipOffer(), sdpHeaders(streamKey));
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/sdp');
    const location = res.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^/whip/${channel.id}/[A-Za-z0-9_-]{22}$`));

    const answer = sdpTransform.parse(await res.text());
    expect(answer.icelite).toBe('ice-lite');
    expect(answer.groups?.[0]).toEqual({ type: 'BUNDLE', mids: '0 1' });
    expect(answer.media.map((m) => [m.type, String(m.mid), m.direction, m.setup, m.rtcpMux])).toEqual([
      ['audio', '0', 'recvonly', 'passive', 'rtcp-mux'],
      ['video', '1', 'recvonly', 'passive', 'rtcp-mux'],
    ]);
    expect(answer.media[0]!.rtp.map((r) => [r.payload, r.codec])).toEqual([[111, 'opus']]);
    // H264 (FFmpeg copies it into HLS) with its RTX, not the VP9 the client listed first.
    expect(answer.media[1]!.rtp.map((r) => [r.payload, r.codec])).toEqual([[102, 'H264'], [103, 'rtx']]);
    expect(answer.media[1]!.rtcpFb?.map((f) => `${f.type} ${f.subtype ?? ''}`.trim())).toEqual(expect.arrayContaining(['nack', 'nack pli', 'ccm fir']));
    expect(channel.tracks().map((p) => p.rtpParameters.mid).sort()).toEqual(['0', '1']);
    for (const m of answer.media) {
      expect(m.candidates?.length).toBeGreaterThan(0);
      expect(m.candidates!.every((c) => c.ip === '127.0.0.1')).toBe(true);
      expect(m.fingerprint?.type).toBe('sha-256');
      expect(m.iceUfrag).toBeTruthy();
    }
    // The producers are the channel's tracks, with the offer's SSRCs and RTX.
    const video = channel.tracks().find((p) => p.kind === 'video')!;
    expect(video.rtpParameters.encodings).toEqual([expect.objectContaining({ ssrc: 2222, rtx: { ssrc: 3333 } })]);
    expect(channel.state.realtime).toBe(true);

    // A second publisher, and the go-live page, are refused while the encoder holds the channel.
    expect((await post(endpoint, whipOffer(), sdpHeaders(streamKey))).status).toBe(409);
    expect(() => channel.claimBroadcaster('socket-1', publishToken)).toThrow(/encoder is publishing/);
    // The page's publish token is not a stream key.
    expect((await post(endpoint, whipOffer(), sdpHeaders(publishToken))).status).toBe(401);

    // DELETE needs the key and the right session.
    expect((await fetch(app.url + location, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(`${app.url}/whip/${channel.id}/${'A'.repeat(22)}`, { method: 'DELETE', headers: { Authorization: `Bearer ${streamKey}` } })).status).toBe(404);
    const ended = new Promise<string>((resolve) => channel.once('ended', resolve));
    const del = await fetch(app.url + location, { method: 'DELETE', headers: { Authorization: `Bearer ${streamKey}` } });
    expect(del.status).toBe(200);
    expect(await ended).toBe('the broadcaster left');
    await eventually(() => channel.router.closed, 'the router to close', 5000);
    expect((await post(endpoint, whipOffer(), sdpHeaders(streamKey))).status).toBe(404);
  });

  it('accepts simulcast rids: one encoding per rid, ordered low to high, and answers recv for them', async () => {
    const { channel, streamKey, endpoint } = await newChannel();
    const res = await post(endpoint, whipOffer({ simulcast: true }), sdpHeaders(streamKey));
    expect(res.status).toBe(201);
    const video = sdpTransform.parse(await res.text()).media[1]!;
    expect(video.simulcast).toEqual({ dir1: 'recv', list1: 'q;h;f' });
    expect(video.rids?.map((r) => [String(r.id), r.direction])).toEqual([['q', 'recv'], ['h', 'recv'], ['f', 'recv']]);
    expect(channel.tracks().find((p) => p.kind === 'video')!.rtpParameters.encodings?.map((e) => e.rid)).toEqual(['q', 'h', 'f']);
    await channel.end('test over');
  });

  it('refuses with a clear status and reason: 404, 401, 415, 413, 400, 405', async () => {
    const { channel, streamKey, endpoint } = await newChannel();
    const status = async (res: Promise<Response>) => {
      const r = await res;
      return [r.status, await r.text()] as const;
    };
    expect((await status(post(`${app.url}/whip/${'x'.repeat(22)}`, whipOffer(), sdpHeaders(streamKey))))[0]).toBe(404);
    expect((await status(post(`${app.url}/whip/../etc/passwd`, whipOffer(), sdpHeaders(streamKey))))[0]).toBe(404);
    const [noKey, noKeyText] = await status(post(endpoint, whipOffer(), { 'Content-Type': 'application/sdp' }));
    expect([noKey, noKeyText]).toEqual([401, expect.stringContaining('Bearer')]);
    expect((await status(post(endpoint, whipOffer(), sdpHeaders(streamKey.slice(1) + 'A'))))[0]).toBe(401);
    expect((await status(post(endpoint, whipOffer(), { ...sdpHeaders(streamKey), Authorization: `Basic ${streamKey}` })))[0]).toBe(401);
    expect(await status(post(endpoint, whipOffer(), { Authorization: `Bearer ${streamKey}`, 'Content-Type': 'application/json' }))).toEqual([415, expect.stringContaining('application/sdp')]);
    expect((await status(post(endpoint, 'v=0\r\n' + 'a=x:'.padEnd(70 * 1024, 'y') + '\r\n', sdpHeaders(streamKey))))[0]).toBe(413);

    const refusals: [string, string][] = [
      ['hello', 'SDP'],
      ['v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n', 'm= line'],
      [whipOffer({ videoCodec: 'AV1/90000' }).replace(/a=rtpmap:96 VP9\/90000\r\n/, ''), 'no usable video codec'],
      [whipOffer().replace(/a=group:BUNDLE 0 1/, 'a=group:BUNDLE 0'), 'BUNDLE'],
      [whipOffer().replace(/a=fingerprint:[^\r]*\r\n/g, ''), 'fingerprint'],
      [whipOffer().replace(/a=sendonly/g, 'a=recvonly'), 'must send'],
      [whipOffer().replace(/a=ssrc[^\r]*\r\n/g, ''), 'neither SSRCs'],
      [whipOffer().replace('m=audio 9 UDP/TLS/RTP/SAVPF', 'm=application 9 UDP/DTLS/SCTP'), 'not supported'],
      [whipOffer({ simulcast: true }).replace('a=simulcast:send f;h;q', 'a=simulcast:send f;h;zz'), 'rid zz'],
      ['v=0\r\n' + 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n'.repeat(50), 'm-lines'],
    ];
    for (const [sdp, reason] of refusals) {
      const [code, text] = await status(post(endpoint, sdp, sdpHeaders(streamKey)));
      expect([code, text], sdp.slice(0, 60)).toEqual([400, expect.stringContaining(reason)]);
    }
    // Nothing of the refused offers stayed on the channel.
    expect(channel.tracks()).toEqual([]);
    expect(channel.hasSource).toBe(false);

    const [patch, patchText] = await status(fetch(`${endpoint}/${'A'.repeat(22)}`, { method: 'PATCH', headers: { Authorization: `Bearer ${streamKey}` } }));
    expect([patch, patchText]).toEqual([405, expect.stringContaining('trickle')]);
    const options = await fetch(endpoint, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(options.headers.get('access-control-expose-headers')).toContain('Location');
    expect((await fetch(endpoint)).status).toBe(405);

    // Still publishable after all that.
    expect((await post(endpoint, whipOffer(), sdpHeaders(streamKey))).status).toBe(201);
    await channel.end('test over');
  });

  it('releases a session whose ICE/DTLS never completes (the source watch ends the channel)', async () => {
    const { channel, streamKey, endpoint } = await newChannel();
    const started = Date.now();
    expect((await post(endpoint, whipOffer(), sdpHeaders(streamKey))).status).toBe(201);
    const reason = await new Promise<string>((resolve) => channel.once('ended', resolve));
    expect(reason).toBe('no media arrived from the broadcaster');
    expect(Date.now() - started).toBeLessThan(6000);
    await eventually(() => channel.router.closed && app.registry.get(channel.id) === undefined, 'the channel to be released', 5000);
  });

  it('leaves nothing behind: 20 publish/DELETE cycles and 10 sessions abandoned before ICE', async () => {
    const routers = async () => (await Promise.all(app.pool.workers.map((w) => w.dump()))).reduce((n, d) => n + d.routerIds.length, 0);
    await eventually(async () => app.registry.size === 0 && (await routers()) === 0, 'earlier tests’ channels to be gone', 10_000);
    const sockets = await udpSocketCount();
    for (let i = 0; i < 20; i++) {
      const { channel, streamKey, endpoint } = await newChannel();
      const res = await post(endpoint, whipOffer(), sdpHeaders(streamKey));
      expect(res.status).toBe(201);
      expect(await udpSocketCount()).toBeGreaterThan(sockets); // the session's transport really listens
      const del = await fetch(app.url + res.headers.get('location')!, { method: 'DELETE', headers: { Authorization: `Bearer ${streamKey}` } });
      expect(del.status).toBe(200);
      await channel.end('test over');
    }
    const abandoned = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const { channel, streamKey, endpoint } = await newChannel();
        expect((await post(endpoint, whipOffer(), sdpHeaders(streamKey))).status).toBe(201);
        return channel;
      }),
    );
    await eventually(() => abandoned.every((c) => c.ended), 'the abandoned sessions to be released', 10_000);
    await eventually(async () => app.registry.size === 0 && (await routers()) === 0 && (await udpSocketCount()) === sockets, 'routers, transports and sockets to be freed', 10_000);
    expect(app.ports.allocated).toBe(0);
  });
});
